"""Users: created by an admin (or on first use of the embedded default), named by name
or UUID, deleted with all of their tasks."""

from __future__ import annotations

import uuid

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from todo_cli.errors import UserExists, UserNotFound, ValidationError
from todo_cli.models import USER_NAME_MAX_LENGTH, User
from todo_cli.service.transaction import transaction
from todo_cli.service.validation import USER_NAME, as_uuid, clean_user_name, shortened


def create_user(session: Session, *, name: str) -> User:
    name = clean_user_name(name)
    exists = UserExists(f"A user named {name!r} already exists.", details={"name": name})
    try:
        with transaction(session):
            if user_by_name(session, name) is not None:
                raise exists
            user = User(name=name)
            session.add(user)
    except IntegrityError:  # created by someone else since the check above
        raise exists from None
    return user


def get_user(session: Session, *, ref: str) -> User:
    """A user by UUID or by name (case-insensitive)."""
    user_id = as_uuid(ref.strip())
    if user_id is None and not USER_NAME.fullmatch(ref.strip()):
        # No user can have this name, and the database may not even accept the text (NUL,
        # a lone surrogate): a malformed reference, as with task references.
        raise ValidationError(
            f"{shortened(ref.strip())!r} is not a user name or UUID; names are "
            f"1–{USER_NAME_MAX_LENGTH} letters, digits and ._@+-",
            details={"field": "user"},
        )
    user = session.get(User, user_id) if user_id else user_by_name(session, ref.strip())
    if user is None:
        raise UserNotFound(
            f"No user {shortened(ref.strip())!r}; create it with `todo user add`.",
            details={"user": ref},
        )
    return user


def ensure_user(session: Session, *, name: str) -> User:
    """The named user, created on first use (the embedded default's login user)."""
    existing = user_by_name(session, clean_user_name(name))
    if existing is not None:
        return existing
    try:
        return create_user(session, name=name)
    except UserExists:  # a concurrent first run created it
        return get_user(session, ref=name)


def list_users(session: Session) -> list[User]:
    return list(session.exec(select(User).order_by(func.lower(User.name))))


def delete_user(session: Session, *, ref: str) -> User:
    """Delete a user, and with them (by the foreign keys' cascade) their tasks and history.

    Not a change in the user's log: the log goes with them.
    """
    with transaction(session):
        user = get_user(session, ref=ref)
        session.delete(user)
    return user


def user_by_name(session: Session, name: str) -> User | None:
    return session.exec(select(User).where(func.lower(User.name) == name.lower())).first()


def require_user(session: Session, user_id: uuid.UUID) -> None:
    if session.get(User, user_id) is None:
        raise user_not_found(user_id)


def user_not_found(user_id: uuid.UUID) -> UserNotFound:
    """The error for a user id that does not exist (the API also answers it to a caller
    whose token is another user's, so the two must stay identical)."""
    return UserNotFound(f"No user {str(user_id)!r}.", details={"user": str(user_id)})
