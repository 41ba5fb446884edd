"""The inbound endpoint and the raw log of what WeChat pushed: verify → decrypt → parse → store once →
dispatch. No business logic."""
