"""The inbound endpoint (P6, L3): verify → decrypt → parse → store once → dispatch. No business logic."""
