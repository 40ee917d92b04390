"""What every flow shares: temporary projects and their clean-up, credentials, the Prefect API
session, the forms' shared fields, name selection, side-by-side tasks, Markdown helpers."""
