"""Onboarding: the risk questionnaire's pages, the recommended model portfolio and making a
model the target of the investor's accounts (accounts/ holds the questionnaire and scoring)."""
