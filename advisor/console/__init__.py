"""The adviser's console: households with what needs attention, a household's record, review
notes and sign-offs, exports. Staff only; advisers see the households assigned to them."""
