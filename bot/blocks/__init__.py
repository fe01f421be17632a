"""Block Kit builders: pure functions from Tamio records to Slack blocks."""
