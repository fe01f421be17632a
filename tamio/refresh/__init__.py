"""Fresh figures: a change to money data asks for the account's figures to be worked out again.

``request_refresh`` writes (or widens) the account's ``RefreshRequest`` row in the transaction of the
change; a drain (``tamio.scheduler.refresh``) runs the TARGETED pipeline for each account asking,
after the commit, once however many changes came in meanwhile.
"""
