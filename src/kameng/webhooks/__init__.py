"""Signed outbound webhooks (Standard Webhooks): endpoints, events, deliveries with retries."""
