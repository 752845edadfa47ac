"""The InvokeAI bridge: an HTTP client for a running InvokeAI, its database read-only, and the drawer actions."""
