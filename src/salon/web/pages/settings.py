"""The settings page: the user's profile (display name), password, and API tokens (list,
create with the secret shown once, revoke).

Plain forms with the session's CSRF token; ``static/app.js`` only adds the copy button and the
confirmation before revoking. Each form's errors and notices are shown in its own card
(``card`` names it).

Post/redirect/get: a successful post answers ``303`` to ``/settings``, so a reload never posts
again; what it shows once (a token's secret, a Telegram code, an import's report) rides there
in the flash cookie (``web.pages.flash``). A refused post re-renders the page with its 4xx
status and changed nothing, so re-posting it on reload is harmless.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import Response

from salon.domain.errors import InvalidInput, SalonError
from salon.domain.users import User
from salon.services import auth, importing
from salon.services import telegram as telegram_links
from salon.services.context import AppContext
from salon.web.deps import Ctx, OptionalPrincipal, current_session_token
from salon.web.errors import status_for
from salon.web.pages.access import FormText, form_principal, to_login
from salon.web.pages.flash import forget_flash, set_flash, take_flash
from salon.web.pages.render import redirect, render

router = APIRouter()

# The "Download all chats" choices, in the order they are offered.
EXPORT_CHOICES = [("json", "Salon chat files (JSON, with files)"), ("markdown", "Markdown"),
                  ("html", "Web pages (HTML, open offline)"), ("pdf", "PDF"), ("csv", "CSV"),
                  ("parquet", "Parquet")]
REVOKED_NOTICE = "The token was revoked: programs using it can no longer sign in."
# ``/settings?saved=<card>`` after a successful form post: the notice shown in that card.
SAVED_NOTICES = {
    "profile": "Your name was saved.",
    "password": "Password changed. Other devices were signed out.",
    "telegram": "Telegram was unlinked: the bot no longer answers for you.",
}
# An import's failures carried to the page after it (each reason cut to REASON_CHARS).
MAX_SHOWN_FAILURES = 10
REASON_CHARS = 150
SETTINGS_PATH = "/settings"
# The password field an error is about (the new password, unless named here).
PASSWORD_ERROR_FIELDS = {
    "INCORRECT_PASSWORD": "current_password",
    "PASSWORD_MISMATCH": "confirm_password",
}


async def settings_page(
    request: Request, ctx: AppContext, user: User, *, status: int = 200, card: str = "tokens",
    created: dict[str, Any] | None = None, error: str | None = None, notice: str | None = None,
    profile_name: str | None = None, invalid: str | None = None,
    import_failures: list[dict[str, Any]] | None = None,
    telegram_code: telegram_links.LinkCode | None = None,
) -> Response:
    """The page, with ``error``/``notice`` shown in ``card`` (profile, password or tokens)
    and ``invalid`` naming the password field the error is about. The Telegram card is there
    when the bot is (SALON_TELEGRAM_BOT_TOKEN), with ``telegram_code`` just made."""
    telegram = ctx.settings.telegram_bot_token != ""
    return render(request, "settings.html", status=status, title="Settings",
                  telegram=telegram, telegram_code=telegram_code,
                  telegram_minutes=ctx.settings.telegram_link_code_minutes,
                  telegram_accounts=(await telegram_links.list_linked_accounts(ctx, user)
                                     if telegram else []),
                  export_formats=EXPORT_CHOICES, import_failures=import_failures or [],
                  tokens=await auth.list_api_tokens(ctx, user), created=created, error=error,
                  notice=notice, card=card, invalid=invalid,
                  profile_name=user.name if profile_name is None else profile_name)


@router.get("/settings")
async def show_settings(
    request: Request, ctx: Ctx, principal: OptionalPrincipal, revoked: bool = False,
    saved: str | None = None,
) -> Response:
    if principal is None:
        return await to_login(ctx, request)
    flash = take_flash(request, ctx.settings)
    if flash is not None:
        response = await flashed_page(request, ctx, principal.user, flash)
        forget_flash(response, request, ctx.settings, path=SETTINGS_PATH)
        return response
    if saved is not None and saved in SAVED_NOTICES:
        return await settings_page(request, ctx, principal.user, card=saved,
                                   notice=SAVED_NOTICES[saved])
    return await settings_page(request, ctx, principal.user,
                               notice=REVOKED_NOTICE if revoked else None)


@router.post("/settings/profile")
async def update_profile(
    request: Request, ctx: Ctx, principal: OptionalPrincipal, name: FormText = "",
    csrf_token: FormText = "",
) -> Response:
    user = form_principal(request, principal, csrf_token).user
    try:
        await auth.update_profile(ctx, user, name=name)
    except SalonError as exc:
        return await settings_page(request, ctx, user, status=status_for(exc), card="profile",
                                   error=exc.detail, profile_name=name, invalid="name")
    return redirect("/settings?saved=profile")


async def flashed_page(
    request: Request, ctx: AppContext, user: User, flash: dict[str, Any]
) -> Response:
    """The page showing what a successful post handed over (``flashed_redirect``)."""
    code = flash.get("telegram_code")
    return await settings_page(
        request, ctx, user, card=str(flash.get("card", "tokens")), notice=flash.get("notice"),
        created=flash.get("created"), import_failures=flash.get("import_failures"),
        telegram_code=telegram_links.LinkCode(
            code=str(code["code"]), expires_at=datetime.fromisoformat(code["expires_at"]))
        if isinstance(code, dict) else None)


def flashed_redirect(request: Request, ctx: AppContext, values: dict[str, Any]) -> Response:
    """303 to the settings page, which shows ``values`` once."""
    response = redirect(SETTINGS_PATH)
    set_flash(response, request, ctx.settings, path=SETTINGS_PATH, values=values)
    return response


def import_summary(filename: str, report: importing.ImportReport) -> dict[str, Any]:
    """What the page says after an import: the counts, and the first failures."""
    counts = (f"{len(report.imported)} imported, {len(report.skipped)} already there, "
              f"{len(report.failed)} failed")
    shown = report.failed[:MAX_SHOWN_FAILURES]
    more = len(report.failed) - len(shown)
    notice = f"{filename[:100]}: {counts}." + (f" The first {len(shown)} failures:" if more
                                                 else "")
    failures = [{"index": f.get("index"), "reason": str(f.get("reason", ""))[:REASON_CHARS]}
                for f in shown]
    return {"card": "chats", "notice": notice, "import_failures": failures}


def check_confirmation(new_password: str, confirm_password: str) -> None:
    """The new password typed twice must match (checked here: the service takes it once)."""
    if new_password != confirm_password:
        raise InvalidInput("The new passwords do not match.", code="PASSWORD_MISMATCH",
                           field="confirm_password")


@router.post("/settings/password")
async def change_password(
    request: Request, ctx: Ctx, principal: OptionalPrincipal, current_password: FormText = "",
    new_password: FormText = "", confirm_password: FormText = "", csrf_token: FormText = "",
) -> Response:
    """Change the password; every other session ends, this browser stays signed in."""
    caller = form_principal(request, principal, csrf_token)
    try:
        check_confirmation(new_password, confirm_password)
        await auth.change_password(ctx, caller.user, current=current_password, new=new_password,
                                   keep_token=current_session_token(request, caller))
    except SalonError as exc:
        return await settings_page(
            request, ctx, caller.user, status=status_for(exc), card="password", error=exc.detail,
            invalid=PASSWORD_ERROR_FIELDS.get(exc.code, "new_password"))
    return redirect("/settings?saved=password")


@router.post("/settings/import")
async def import_chats(
    request: Request, ctx: Ctx, principal: OptionalPrincipal,
    file: Annotated[UploadFile | None, File()] = None, csrf_token: FormText = "",
) -> Response:
    """Import an uploaded chat file (read as a stream, one conversation at a time); the
    result is said in the "Your chats" card."""
    user = form_principal(request, principal, csrf_token).user
    if file is None or not file.filename:
        return await settings_page(request, ctx, user, status=422, card="chats",
                                   error="Choose a file to import.")
    try:
        report = await importing.import_file(ctx, user, file.file)
    except SalonError as exc:
        return await settings_page(request, ctx, user, status=status_for(exc), card="chats",
                                   error=f"{file.filename} was not imported: {exc.detail}")
    finally:
        await file.close()
    return flashed_redirect(request, ctx, import_summary(file.filename, report))


@router.post("/settings/tokens")
async def create_token(
    request: Request, ctx: Ctx, principal: OptionalPrincipal, name: FormText = "",
    csrf_token: FormText = "",
) -> Response:
    """Create a token and show its secret once, on the page this redirects to (it is never
    stored)."""
    user = form_principal(request, principal, csrf_token).user
    try:
        created = await auth.create_api_token(ctx, user, name=name)
    except SalonError as exc:  # shown next to the form
        return await settings_page(request, ctx, user, status=status_for(exc), error=exc.detail)
    return flashed_redirect(request, ctx, {
        "card": "tokens", "created": {"name": created["name"], "token": created["token"]}})


@router.post("/settings/tokens/{token_id}/revoke")
async def revoke_token(
    token_id: str, request: Request, ctx: Ctx, principal: OptionalPrincipal,
    csrf_token: FormText = "",
) -> Response:
    user = form_principal(request, principal, csrf_token).user
    await auth.revoke_api_token(ctx, user, token_id)
    return redirect("/settings?revoked=1")


@router.post("/settings/telegram/code")
async def create_telegram_code(
    request: Request, ctx: Ctx, principal: OptionalPrincipal, csrf_token: FormText = "",
) -> Response:
    """A one-time code to send to the bot (``/link CODE``), shown once, on the page this
    redirects to."""
    user = form_principal(request, principal, csrf_token).user
    code = await telegram_links.create_link_code(ctx, user)
    return flashed_redirect(request, ctx, {"card": "telegram", "telegram_code": {
        "code": code.code, "expires_at": code.expires_at.isoformat()}})


@router.post("/settings/telegram/unlink")
async def unlink_telegram(
    request: Request, ctx: Ctx, principal: OptionalPrincipal, csrf_token: FormText = "",
) -> Response:
    user = form_principal(request, principal, csrf_token).user
    await telegram_links.unlink_accounts(ctx, user)
    return redirect("/settings?saved=telegram")
