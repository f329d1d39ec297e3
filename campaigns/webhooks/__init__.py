"""Status webhooks: each status change of a message the event API queued, posted
as signed JSON to the URL its API token (or every token) chose.

models.py      WebhookEndpoint (URL, secret, rotation) and WebhookDelivery (the outbox)
outbox.py      the deliveries written in the transaction that changes a status
payload.py     pure: a message's state -> the event's JSON
signing.py     pure: secrets and the Smsbridge-Signature header
delivering.py  one attempt at a delivery, the backoff, giving up, sending again
forms.py       the endpoint form: an HTTPS URL on a public address
"""
