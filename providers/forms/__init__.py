"""The setup screens' forms (setup), the sender form, and what makes pasting a
provider's guide safe (paste_safety, guide_text, credentials, held_secrets)."""
