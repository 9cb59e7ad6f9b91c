"""The pure core: money, calendar, refund engine. Imports only the standard library and the
published holiday data; no web, database or network code lives here."""
