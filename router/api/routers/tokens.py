"""``/v1/tokens`` (admins): create (the token is in that answer only), list, revoke."""

from __future__ import annotations

from fastapi import APIRouter, Path

from eventrouter.router.api.auth import ControlDep
from eventrouter.router.api.paging import Cursor, Limit
from eventrouter.router.models.base import Page
from eventrouter.router.models.people import Token, TokenCreated, TokenIn

router = APIRouter(tags=["tokens"])

TokenId = Path(ge=1, le=2**63 - 1)


@router.get("/tokens", response_model=Page[Token])
def list_tokens(control: ControlDep, limit: Limit = 20, cursor: Cursor = None) -> Page[Token]:
    """The org's tokens, newest first (never the tokens themselves)."""
    return control.tokens.list(limit=limit, cursor_token=cursor)


@router.post("/tokens", response_model=TokenCreated, status_code=201)
def create_token(spec: TokenIn, control: ControlDep) -> TokenCreated:
    """A token for a user or a service; ``token`` is shown in this answer only."""
    return control.tokens.create(spec)


@router.get("/tokens/{token_id}", response_model=Token)
def get_token(control: ControlDep, token_id: int = TokenId) -> Token:
    return control.tokens.get(token_id)


@router.delete("/tokens/{token_id}", response_model=Token)
def revoke_token(control: ControlDep, token_id: int = TokenId) -> Token:
    """Revoke a token: it is refused from its next request on."""
    return control.tokens.revoke(token_id)
