"""Delivery reports: the callback URL stores each callback as its log row, the
worker applies the waiting ones in batches.

views.py     /dlr/<token>/: check token, credentials and format; store; answer
applying.py  the worker's loop: waiting reports, a few hundred per transaction
tracking.py  what one batch of reports does to messages and test sends
"""
