"""Auto-renewal: consent, reminders, renewal charges, cancelling with a step-up check."""
