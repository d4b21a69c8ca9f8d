"""The app's routes, one module per area: account, upload, sessions, report."""
