"""Refuse common and breached passwords from a list shipped with the app (no network at run
time): about 40,000 entries, Django's 20,000 plus zxcvbn's 30,000 most common passwords of the
Xato corpus (data/README.md says where they come from and under which licences)."""

import re
from pathlib import Path
from typing import Any

from django.contrib.auth import password_validation

LIST_PATH = Path(__file__).resolve().parent / "data" / "common-passwords.txt.gz"
_TRAILING = re.compile(r"[\d\W_]+$")


class CommonPasswordValidator(password_validation.CommonPasswordValidator):
    """Django's validator on the larger list; also refuses a listed password with digits or
    symbols appended ('dragon2026!')."""

    def __init__(self, password_list_path: Path | str = LIST_PATH) -> None:
        super().__init__(password_list_path=password_list_path)

    def validate(self, password: str, user: Any = None) -> None:
        super().validate(password, user)
        stem = _TRAILING.sub("", password.lower().strip())
        if len(stem) >= 4 and stem in self.passwords:
            super().validate(stem, user)
