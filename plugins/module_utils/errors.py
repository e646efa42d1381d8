# Copyright (c) passwordsecure.server contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's exceptions.

Every error a user can cause is one of these. Each message says what was being
done, on what, and what to do about it, so a module can hand it to
``fail_json`` as it is. Nothing here may carry a password or key material.
"""

from __future__ import annotations


class PasswordSecureError(Exception):
    """Base class of every error of the collection."""


class InvalidRequestError(PasswordSecureError):
    """The task's options describe something that cannot be done."""


class StoreError(PasswordSecureError):
    """The store cannot be read or written (a file system problem)."""


class StoreDamagedError(StoreError):
    """The store's index or an entry does not hold what it must."""


class StorePasswordError(StoreError):
    """The store password is missing, or it is not the store's password."""


class DependencyError(PasswordSecureError):
    """A Python library the module needs is missing or too old."""


class CertificateRefusedError(InvalidRequestError):
    """A certificate offered for import is refused: it is not a Password Secure certificate (or not
    of the kind and identity given), or the private key given with it is not its own or is damaged."""
