"""The product's security layer: settings checks, middleware (headers, session timeouts, MFA for
staff), the allauth adapter (rate-limit keys, email), step-up before sensitive actions, the
password list and the database roles. See SECURITY.md."""
