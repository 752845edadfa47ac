"""A fake InvokeAI HTTP server on 127.0.0.1 that answers like the real one, per version.

Follows /work/shared/reference/invokeai-api.md (section 9 lists what it must do) and what a live
6.14.2 answered (invokeai-live-6.14.2.md): FastAPI error bodies, the SPA 200-HTML fallback for
unknown GETs from 6.12, 405 for unknown non-GETs, exact trailing slashes, multi-user auth with
JWT-shaped tokens and X-Refreshed-Token (>= 6.13), board checks on upload (>= 6.13), the recall
router (>= 6.12; strict / reference_images >= 6.13; append >= 6.13.5) storing `recall_*` keys in
client_state exactly as the real router does, and media auth on /full from 6.14.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from PIL import Image, PngImagePlugin

Handler = Callable[[web.Request, "Caller"], Awaitable[web.StreamResponse]]

SPA_HTML = (
    "<!doctype html><html><head><title>Invoke - Community Edition</title></head>"
    '<body><div id="root"></div></body></html>'
)
SYSTEM_USER_ID = "system"
MULTIUSER_DISABLED = (
    "Multiuser mode is disabled. Authentication is not required in single-user mode."
)
RECALL_FIELDS = [
    "positive_prompt",
    "negative_prompt",
    "model",
    "refiner_model",
    "vae_model",
    "scheduler",
    "steps",
    "refiner_steps",
    "cfg_scale",
    "cfg_rescale_multiplier",
    "refiner_cfg_scale",
    "guidance",
    "width",
    "height",
    "seed",
    "denoise_strength",
    "refiner_denoise_start",
    "clip_skip",
    "seamless_x",
    "seamless_y",
    "refiner_positive_aesthetic_score",
    "refiner_negative_aesthetic_score",
    "loras",
    "control_layers",
    "ip_adapters",
    "reference_images",
]
RECALL_LISTS = {"loras", "control_layers", "ip_adapters", "reference_images"}
RECALL_STR = {
    "positive_prompt",
    "negative_prompt",
    "model",
    "refiner_model",
    "vae_model",
    "scheduler",
}
RECALL_INT_MIN = {
    "steps": 1,
    "refiner_steps": 0,
    "width": 64,
    "height": 64,
    "seed": 0,
    "clip_skip": 0,
}
RECALL_UNIT = {"denoise_strength", "refiner_denoise_start"}
RECALL_BOOL = {"seamless_x", "seamless_y"}
NESTED_DEFAULTS = {
    "loras": {"model_name": None, "weight": 0.75, "is_enabled": True},
    "control_layers": {
        "model_name": None,
        "image_name": None,
        "weight": 1.0,
        "begin_step_percent": None,
        "end_step_percent": None,
        "control_mode": None,
    },
    "ip_adapters": {
        "model_name": None,
        "image_name": None,
        "weight": 1.0,
        "begin_step_percent": None,
        "end_step_percent": None,
        "method": None,
        "image_influence": None,
    },
    "reference_images": {"image_name": None},
}


def vt(text: str) -> tuple[int, int, int]:
    parts = [*(int(p) for p in re.findall(r"\d+", text)[:3]), 0, 0, 0]
    return parts[0], parts[1], parts[2]


def png_bytes(
    size: tuple[int, int] = (64, 48),
    color: tuple[int, int, int] = (200, 30, 30),
    text: dict[str, str] | None = None,
) -> bytes:
    info = PngImagePlugin.PngInfo()
    for key, value in (text or {}).items():
        info.add_text(key, value)
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "PNG", pnginfo=info)
    return buffer.getvalue()


def now_text() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S.000", time.gmtime())


@dataclass
class FakeUser:
    user_id: str
    email: str
    password: str
    display_name: str | None = None
    is_admin: bool = False
    is_active: bool = True

    def dto(self) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "email": self.email,
            "display_name": self.display_name,
            "is_admin": self.is_admin,
            "is_active": self.is_active,
            "created_at": "2026-11-23T11:10:51.532000",
            "updated_at": "2026-11-23T11:10:51.532000",
            "last_login_at": None,
            "token_epoch": 0,
        }


SYSTEM = FakeUser(SYSTEM_USER_ID, "system@system.invokeai", "", "System", is_admin=True)


@dataclass
class FakeBoard:
    board_id: str
    board_name: str
    user_id: str = SYSTEM_USER_ID
    visibility: str = "private"
    archived: bool = False
    created_at: str = field(default_factory=now_text)


@dataclass
class FakeImage:
    image_name: str
    width: int
    height: int
    data: bytes
    category: str = "general"
    is_intermediate: bool = False
    board_id: str | None = None
    user_id: str = SYSTEM_USER_ID
    metadata: dict[str, Any] | None = None
    origin: str = "internal"
    created_at: str = field(default_factory=now_text)


@dataclass
class Caller:
    user: FakeUser
    token_sent: bool


@dataclass
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    since: tuple[int, int, int] = (3, 0, 0)
    # "public", "user" (CurrentUserOrDefault), "strict" (CurrentUser), "media" (/full, 6.14)
    auth: str = "user"


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(data, separators=(",", ":")).encode(),
        content_type="application/json",
        headers=headers,
    )


def detail(status: int, text: Any, headers: dict[str, str] | None = None) -> web.Response:
    return _json({"detail": text}, status, headers)


def missing(loc: list[str]) -> dict[str, Any]:
    return {"type": "missing", "loc": loc, "msg": "Field required", "input": None}


class FakeInvokeAI:
    """Configure by version and multi-user mode; start() returns the base URL."""

    def __init__(
        self, version: str = "6.14.2", *, multiuser: bool = False, token_lifetime: int = 86_400
    ) -> None:
        self.version = version
        self.v = vt(version)
        self.multiuser = multiuser
        self.token_lifetime = token_lifetime
        self.secret = uuid.uuid4().bytes
        self.users: dict[str, FakeUser] = {}
        self.boards: dict[str, FakeBoard] = {}
        self.images: dict[str, FakeImage] = {}
        self.models: list[dict[str, str]] = []
        self.client_state: dict[tuple[str, str], str] = {}
        self.recall_events: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []
        self.issued_tokens = 0
        # Dummy operations added to /openapi.json: the real 6.14 document is 1.7 MB, which
        # arrives in many chunks (a client reading one chunk only gets invalid JSON).
        self.openapi_padding = 0
        # A server (or a debugging proxy in front of it) that repeats the request in its error
        # answers: the body as sent (the login body holds the password), the same fields
        # URL-encoded, and the Authorization header. "json": in FastAPI's validation `detail`
        # list; "text": a text/plain page, laid out so that its first 200 characters end
        # inside the password.
        self.echo_requests: str | None = None
        # path -> status: answer these with an error (echoed like any other, when echoing).
        self.failing_paths: dict[str, int] = {}
        self.routes = self._routes()
        self._runner: web.AppRunner | None = None
        self.url = ""

    # -- setup helpers for tests -----------------------------------------------------------

    def add_user(
        self,
        email: str,
        password: str,
        *,
        is_admin: bool = False,
        is_active: bool = True,
        name: str | None = None,
    ) -> FakeUser:
        user = FakeUser(str(uuid.uuid4()), email, password, name, is_admin, is_active)
        self.users[email] = user
        return user

    def add_board(
        self,
        name: str,
        *,
        owner: str = SYSTEM_USER_ID,
        visibility: str = "private",
        archived: bool = False,
    ) -> FakeBoard:
        board = FakeBoard(str(uuid.uuid4()), name, owner, visibility, archived)
        self.boards[board.board_id] = board
        return board

    def add_image(
        self,
        data: bytes | None = None,
        *,
        name: str | None = None,
        board_id: str | None = None,
        owner: str = SYSTEM_USER_ID,
        category: str = "general",
        is_intermediate: bool = False,
    ) -> FakeImage:
        data = data or png_bytes()
        with Image.open(io.BytesIO(data)) as img:
            width, height = img.size
            meta = _parse_json(img.info.get("invokeai_metadata"))
        image = FakeImage(
            name or f"{uuid.uuid4()}.png",
            width,
            height,
            data,
            category,
            is_intermediate,
            board_id,
            owner,
            meta,
        )
        self.images[image.image_name] = image
        return image

    def add_model(self, name: str, model_type: str = "main", base: str = "sdxl") -> str:
        key = str(uuid.uuid4())
        self.models.append({"key": key, "name": name, "type": model_type, "base": base})
        return key

    async def start(self) -> str:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- dispatch: routing, SPA fallback, auth gate, sliding token -------------------------

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        response = await self._answer(request)
        if self.echo_requests and response.status >= 400:
            return await self._echo(request, response)
        return response

    async def _echo(self, request: web.Request, response: web.StreamResponse) -> web.Response:
        sent = (await request.read()).decode("utf-8", "replace")
        fields = _parse_json(sent) or {}
        encoded = urlencode({k: v for k, v in fields.items() if isinstance(v, str)})
        auth = request.headers.get("Authorization", "(none)")
        echo = f"request body: {sent} form: {encoded} Authorization: {auth}"
        if self.echo_requests == "json":
            item = {"loc": ["body"], "msg": f"HTTP {response.status}; {echo}", "input": fields}
            return detail(response.status, [item])
        found = re.search(r'"password":\s*"', sent)
        lead = "x" * (200 - len("request body: ") - found.end() - 3) if found else ""
        return web.Response(status=response.status, text=f"{lead}{echo}", content_type="text/plain")

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        body = await _read_json(request) if request.content_type == "application/json" else None
        self.requests.append(
            {
                "method": request.method,
                "path": request.path,
                "query": dict(request.query),
                "auth": request.headers.get("Authorization"),
                "json": body,
            }
        )
        if request.path in self.failing_paths:
            return detail(self.failing_paths[request.path], "Internal Server Error")
        path_matches = [
            (route, match)
            for route in self.routes
            if self.v >= route.since and (match := route.pattern.fullmatch(request.path))
        ]
        for route, match in path_matches:
            if route.method == request.method:
                request.match_info.update(match.groupdict())
                return await self._call(route, request)
        if request.method == "GET" and self.v >= (6, 12, 0):
            # >= 6.12: the web UI is mounted at "/" and answers any unknown GET with index.html.
            return web.Response(text=SPA_HTML, content_type="text/html", charset="utf-8")
        if request.method == "GET" and not path_matches:
            return detail(404, "Not Found")
        return detail(405, "Method Not Allowed", {"Allow": "GET, HEAD"})

    async def _call(self, route: Route, request: web.Request) -> web.StreamResponse:
        caller_or_error = self._authenticate(route, request)
        if isinstance(caller_or_error, web.Response):
            return caller_or_error
        response = await route.handler(request, caller_or_error)
        if (
            self.multiuser
            and self.v >= (6, 13, 0)
            and response.status < 400
            and request.method in ("POST", "PUT", "PATCH", "DELETE")
            and request.path not in ("/api/v1/auth/login", "/api/v1/auth/logout")
            and caller_or_error.token_sent
        ):
            response.headers["X-Refreshed-Token"] = self.issue_token(caller_or_error.user)
        return response

    def _authenticate(self, route: Route, request: web.Request) -> Caller | web.Response:
        header = request.headers.get("Authorization", "")
        token = header[7:] if header.startswith("Bearer ") else None
        if not self.multiuser:
            return Caller(SYSTEM, token_sent=False)  # any Authorization header is ignored
        public = (
            route.auth == "public"
            or (route.auth == "media" and self.v < (6, 14, 0))
            or (route.pattern.pattern.startswith("/api/v1/recall") and self.v < (6, 13, 0))
        )
        if route.auth == "media" and not token:
            token = request.cookies.get("invokeai_media_token")
        user = self.verify_token(token) if token else None
        if user is not None:
            return Caller(user, token_sent=True)
        if public:
            return Caller(SYSTEM, token_sent=False)
        if route.auth == "strict":
            text = (
                "Missing authentication credentials"
                if not token
                else "Invalid or expired authentication token"
            )
            return detail(401, text, {"WWW-Authenticate": "Bearer"})
        return detail(401, "Authentication required" if not token else "Invalid or expired token")

    def issue_token(self, user: FakeUser) -> str:
        self.issued_tokens += 1
        claims = {
            "user_id": user.user_id,
            "email": user.email,
            "is_admin": user.is_admin,
            "remember_me": False,
            "token_epoch": 0,
            "exp": int(time.time()) + self.token_lifetime,
            "n": self.issued_tokens,
        }
        head = _b64({"alg": "HS256", "typ": "JWT"})
        body = _b64(claims)
        sig = base64.urlsafe_b64encode(
            hmac.new(self.secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
        ).rstrip(b"=")
        return f"{head}.{body}.{sig.decode()}"

    def verify_token(self, token: str) -> FakeUser | None:
        try:
            head, body, sig = token.split(".")
            expected = base64.urlsafe_b64encode(
                hmac.new(self.secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
            ).rstrip(b"=")
            if not hmac.compare_digest(expected, sig.encode()):
                return None
            claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        except ValueError:
            return None
        if claims.get("exp", 0) < time.time():
            return None
        user = self.users.get(claims.get("email"))
        return user if user and user.is_active and user.user_id == claims["user_id"] else None

    # -- routes ------------------------------------------------------------------------------

    def _routes(self) -> list[Route]:
        def r(
            method: str, path: str, handler: Handler, since: str = "3.0.0", auth: str = "user"
        ) -> Route:
            pattern = re.escape(path)
            pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", pattern)
            return Route(method, re.compile(pattern), handler, vt(since), auth)

        return [
            r("GET", "/api/v1/app/version", self.h_version, auth="public"),
            r("GET", "/openapi.json", self.h_openapi, auth="public"),
            r("GET", "/api/v1/auth/status", self.h_auth_status, "6.12.0", "public"),
            r("POST", "/api/v1/auth/login", self.h_login, "6.12.0", "public"),
            r("GET", "/api/v1/auth/me", self.h_me, "6.12.0", "strict"),
            r("GET", "/api/v1/boards/", self.h_boards),
            r("POST", "/api/v1/boards/", self.h_create_board),
            r("GET", "/api/v1/boards/{board_id}", self.h_board),
            r("GET", "/api/v1/boards/{board_id}/image_names", self.h_board_image_names),
            r("POST", "/api/v1/images/upload", self.h_upload),
            r("GET", "/api/v1/images/", self.h_list_images),
            r("GET", "/api/v1/images/i/{name}", self.h_image_dto),
            r("GET", "/api/v1/images/i/{name}/metadata", self.h_image_metadata),
            r("GET", "/api/v1/images/i/{name}/full", self.h_image_full, auth="media"),
            r("POST", "/api/v1/recall/{queue_id}", self.h_recall, "6.12.0"),
            r("GET", "/api/v1/recall/{queue_id}", self.h_recall_stub, "6.12.0"),
            r("GET", "/api/v1/client_state/{queue_id}/get_by_key", self.h_state_get),
            r("GET", "/api/v1/client_state/{queue_id}/get_keys_by_prefix", self.h_state_keys),
            r("GET", "/api/v2/models/", self.h_models, "4.0.0"),
        ]

    async def h_version(self, request: web.Request, caller: Caller) -> web.Response:
        body: dict[str, Any] = {"version": self.version}
        if (5, 5, 0) <= self.v < (6, 9, 0):
            body["highlights"] = None
        return _json(body)

    async def h_openapi(self, request: web.Request, caller: Caller) -> web.Response:
        title = "Invoke AI" if self.v < (3, 6, 0) else "Invoke - Community Edition"
        paths: dict[str, Any] = {}
        for route in self.routes:
            if self.v >= route.since:
                template = re.sub(r"\(\?P<(\w+)>\[\^/\]\+\)", r"{\1}", route.pattern.pattern)
                paths.setdefault(template.replace("\\", ""), {})[route.method.lower()] = {}
        for index in range(self.openapi_padding):
            paths[f"/api/v1/padding/{index}"] = {"get": {"description": "x" * 200}}
        schemas: dict[str, Any] = {}
        if self.v >= (6, 12, 0):
            params = [{"name": "queue_id", "in": "path", "required": True}]
            if self.v >= (6, 13, 0):
                params.append({"name": "strict", "in": "query", "required": False})
            if self.v >= (6, 13, 5):
                params.append({"name": "append", "in": "query", "required": False})
            body = {
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/RecallParameter"}}
                }
            }
            paths["/api/v1/recall/{queue_id}"]["post"] = {
                "operationId": "update_recall_parameters",
                "parameters": params,
                "requestBody": body,
            }
            schemas["RecallParameter"] = {
                "type": "object",
                "additionalProperties": False,
                "properties": {name: {} for name in self._recall_fields()},
            }
        return _json(
            {
                "openapi": "3.1.0",
                "info": {"title": title, "version": "1.0.0"},
                "paths": paths,
                "components": {"schemas": schemas},
            }
        )

    async def h_auth_status(self, request: web.Request, caller: Caller) -> web.Response:
        body: dict[str, Any] = {
            "setup_required": self.multiuser and not any(u.is_admin for u in self.users.values()),
            "multiuser_enabled": self.multiuser,
            "strict_password_checking": False,
        }
        if self.v >= (6, 13, 0):
            body["admin_email"] = None
        return _json(body)

    async def h_login(self, request: web.Request, caller: Caller) -> web.Response:
        data = await _read_json(request)
        if not isinstance(data, dict):
            return detail(422, [missing(["body"])])
        errors = [missing(["body", key]) for key in ("email", "password") if key not in data]
        if errors:
            return detail(422, errors)
        email = data["email"]
        if not isinstance(email, str) or not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
            return detail(
                422,
                [
                    {
                        "type": "value_error",
                        "loc": ["body", "email"],
                        "msg": "value is not a valid email address",
                        "input": email,
                    }
                ],
            )
        if not self.multiuser:
            return detail(403, MULTIUSER_DISABLED)
        user = self.users.get(email)
        if user is None or user.password != data["password"]:
            return detail(401, "Incorrect email or password", {"WWW-Authenticate": "Bearer"})
        if not user.is_active:
            return detail(403, "User account is disabled")
        lifetime = 604_800 if data.get("remember_me") else self.token_lifetime
        token = self.issue_token(user)
        response = _json({"token": token, "user": user.dto(), "expires_in": lifetime})
        if self.v >= (6, 14, 0):
            response.set_cookie(
                "invokeai_media_token",
                token,
                httponly=True,
                path="/api/v1",
                samesite="lax",
                max_age=lifetime,
            )
        return response

    async def h_me(self, request: web.Request, caller: Caller) -> web.Response:
        if not self.multiuser:
            return detail(401, "Missing authentication credentials", {"WWW-Authenticate": "Bearer"})
        return _json(caller.user.dto())

    # boards

    def can_read_board(self, board: FakeBoard, user: FakeUser) -> bool:
        if user.is_admin or board.user_id == user.user_id:
            return True
        return self.v >= (6, 13, 0) and board.visibility in ("shared", "public")

    def can_write_board(self, board: FakeBoard, user: FakeUser) -> bool:
        return user.is_admin or board.user_id == user.user_id or board.visibility == "public"

    def board_dto(self, board: FakeBoard) -> dict[str, Any]:
        on_board = [i for i in self.images.values() if i.board_id == board.board_id]
        dto: dict[str, Any] = {
            "board_id": board.board_id,
            "board_name": board.board_name,
            "created_at": board.created_at,
            "updated_at": board.created_at,
            "deleted_at": None,
            "cover_image_name": on_board[-1].image_name if on_board else None,
        }
        if self.v >= (4, 2, 6):
            dto["archived"] = board.archived
        if (4, 2, 6) <= self.v < (6, 12, 0):
            dto["is_private"] = False
        if self.v >= (6, 12, 0):
            dto["user_id"] = board.user_id
            owner = next((u for u in self.users.values() if u.user_id == board.user_id), SYSTEM)
            dto["owner_username"] = owner.display_name
        if self.v >= (6, 13, 0):
            dto["board_visibility"] = board.visibility
        if self.v >= (6, 14, 0):
            dto["cover_video_name"] = None
            dto["video_count"] = 0
        visible = [i for i in on_board if not i.is_intermediate]
        dto["image_count"] = sum(1 for i in visible if i.category == "general")
        if self.v >= (6, 6, 0):
            dto["asset_count"] = sum(1 for i in visible if i.category != "general")
        return dto

    async def h_boards(self, request: web.Request, caller: Caller) -> web.Response:
        query = request.query
        include_archived = query.get("include_archived") == "true" and self.v >= (4, 2, 6)
        archiving = self.v >= (4, 2, 6)
        boards = [
            b for b in self.boards.values() if include_archived or not archiving or not b.archived
        ]
        boards = [b for b in boards if self.can_read_board(b, caller.user)]
        if query.get("all") == "true":
            return _json([self.board_dto(b) for b in boards])
        if "offset" in query and "limit" in query:
            offset, limit = int(query["offset"]), int(query["limit"])
            page = boards[offset : offset + limit]
            return _json(
                {
                    "limit": limit,
                    "offset": offset,
                    "total": len(boards),
                    "items": [self.board_dto(b) for b in page],
                }
            )
        return detail(
            400, "Invalid request: Must provide either 'all' or both 'offset' and 'limit'"
        )

    async def h_create_board(self, request: web.Request, caller: Caller) -> web.Response:
        name = request.query.get("board_name")
        if not name:
            return detail(422, [missing(["query", "board_name"])])
        board = self.add_board(name, owner=caller.user.user_id)
        return _json(self.board_dto(board), 201)

    def _readable_board(self, board_id: str, caller: Caller) -> FakeBoard | web.Response:
        board = self.boards.get(board_id)
        if board is None:
            return detail(404, "Board not found")
        if not self.can_read_board(board, caller.user):
            return detail(403, "Not authorized to access this board")
        return board

    async def h_board(self, request: web.Request, caller: Caller) -> web.Response:
        board = self._readable_board(request.match_info["board_id"], caller)
        return board if isinstance(board, web.Response) else _json(self.board_dto(board))

    async def h_board_image_names(self, request: web.Request, caller: Caller) -> web.Response:
        board_id = request.match_info["board_id"]
        if board_id != "none":
            board = self._readable_board(board_id, caller)
            if isinstance(board, web.Response):
                return board
        wanted = None if board_id == "none" else board_id
        return _json([i.image_name for i in self.images.values() if i.board_id == wanted])

    # images

    def can_read_image(self, image: FakeImage, user: FakeUser) -> bool:
        if user.is_admin or image.user_id == user.user_id:
            return True
        board = self.boards.get(image.board_id or "")
        return bool(board and self.v >= (6, 13, 0) and board.visibility in ("shared", "public"))

    def image_dto(self, image: FakeImage) -> dict[str, Any]:
        url = f"api/v1/images/i/{image.image_name}"
        dto: dict[str, Any] = {
            "image_name": image.image_name,
            "image_url": f"{url}/full",
            "thumbnail_url": f"{url}/thumbnail",
            "image_origin": image.origin,
            "image_category": image.category,
            "width": image.width,
            "height": image.height,
            "created_at": image.created_at,
            "updated_at": image.created_at,
            "deleted_at": None,
            "is_intermediate": image.is_intermediate,
            "session_id": None,
            "node_id": None,
            "starred": False,
            "has_workflow": False,
        }
        if self.v >= (6, 13, 0):
            dto["image_subfolder"] = ""
        dto["board_id"] = image.board_id
        return dto

    async def h_upload(self, request: web.Request, caller: Caller) -> web.Response:
        query = request.query
        errors = [
            missing(["query", k]) for k in ("image_category", "is_intermediate") if k not in query
        ]
        form = await request.post() if request.content_type.startswith("multipart/") else {}
        upload = form.get("file")
        if not isinstance(upload, web.FileField):
            errors.append(missing(["body", "file"]))
        if errors:
            return detail(422, errors)
        assert isinstance(upload, web.FileField)
        board_id = query.get("board_id")
        if board_id and self.v >= (6, 13, 0):
            board = self.boards.get(board_id)
            if board is None:
                return detail(404, "Board not found")
            if not self.can_write_board(board, caller.user):
                return detail(403, "Not authorized to upload to this board")
        elif board_id and board_id not in self.boards:
            board_id = None  # < 6.13: only a logged warning; the image lands in Uncategorized
        if not (upload.content_type or "").startswith("image"):
            return detail(415, "Not an image")
        data = upload.file.read()
        try:
            with Image.open(io.BytesIO(data)) as img:
                img.load()
                info = dict(img.info)
                out = io.BytesIO()
                kept = PngImagePlugin.PngInfo()
                for key in ("invokeai_metadata", "invokeai_workflow", "invokeai_graph"):
                    if isinstance(info.get(key), str) and self.v >= (3, 4, 0):
                        kept.add_text(key, info[key])
                img.convert("RGBA" if img.mode in ("RGBA", "LA", "P") else "RGB").save(
                    out, "PNG", pnginfo=kept
                )
        except Exception:
            return detail(415, "Failed to read image")
        image = self.add_image(
            out.getvalue(),
            board_id=board_id,
            owner=caller.user.user_id,
            category=query["image_category"],
            is_intermediate=query["is_intermediate"] == "true",
        )
        image.origin = "external"
        location = f"api/v1/images/i/{image.image_name}/full"
        return _json(self.image_dto(image), 201, {"Location": location})

    async def h_list_images(self, request: web.Request, caller: Caller) -> web.Response:
        query = request.query
        board = query.get("board_id")
        items = [i for i in self.images.values() if self.can_read_image(i, caller.user)]
        if board is not None:
            items = [i for i in items if i.board_id == (None if board == "none" else board)]
        if "is_intermediate" in query:
            items = [i for i in items if i.is_intermediate == (query["is_intermediate"] == "true")]
        offset, limit = int(query.get("offset", 0)), int(query.get("limit", 10))
        return _json(
            {
                "limit": limit,
                "offset": offset,
                "total": len(items),
                "items": [self.image_dto(i) for i in items[offset : offset + limit]],
            }
        )

    def _readable_image(self, request: web.Request, caller: Caller) -> FakeImage | web.Response:
        image = self.images.get(request.match_info["name"])
        restricted = self.multiuser and not caller.user.is_admin and self.v >= (6, 12, 0)
        # non-admins get 403 even for images that do not exist
        if restricted and (image is None or not self.can_read_image(image, caller.user)):
            return detail(403, "Not authorized to access this image")
        if image is None:
            return detail(404, "Not Found")
        return image

    async def h_image_dto(self, request: web.Request, caller: Caller) -> web.Response:
        image = self._readable_image(request, caller)
        return image if isinstance(image, web.Response) else _json(self.image_dto(image))

    async def h_image_metadata(self, request: web.Request, caller: Caller) -> web.Response:
        image = self._readable_image(request, caller)
        return image if isinstance(image, web.Response) else _json(image.metadata)

    async def h_image_full(self, request: web.Request, caller: Caller) -> web.Response:
        image = self._readable_image(request, caller)
        if isinstance(image, web.Response):
            return image
        return web.Response(body=image.data, content_type="image/png")

    # recall

    def _recall_fields(self) -> list[str]:
        if self.v >= (6, 13, 0):
            return RECALL_FIELDS
        return [f for f in RECALL_FIELDS if f != "reference_images"]

    async def h_recall_stub(self, request: web.Request, caller: Caller) -> web.Response:
        return _json(
            {
                "status": "success",
                "queue_id": request.match_info["queue_id"],
                "note": "Use the frontend to access stored recall parameters, or set "
                "specific parameters using POST",
            }
        )

    async def h_recall(self, request: web.Request, caller: Caller) -> web.Response:
        body = await _read_json(request)
        errors = self._validate_recall(body)
        if errors:
            return detail(422, errors)
        assert isinstance(body, dict)
        strict = self.v >= (6, 13, 0) and request.query.get("strict") == "true"
        append = self.v >= (6, 13, 5) and request.query.get("append") == "true"
        if strict and append:
            return detail(400, "The 'strict' and 'append' query parameters are mutually exclusive")
        params = {key: _nested_defaults(key, value) for key, value in body.items()}
        forbidden = self._recall_image_access(params, caller.user)
        if forbidden:
            return detail(403, f"Not authorized to access image {forbidden}")
        if strict:
            provided = {
                f: params[f] if params.get(f) is not None else ([] if f in RECALL_LISTS else None)
                for f in self._recall_fields()
            }
        else:
            provided = {k: v for k, v in params.items() if v is not None}
        if not provided:
            return _json({"status": "no_parameters_provided", "updated_count": 0})
        for key, value in provided.items():
            self.client_state[(caller.user.user_id, f"recall_{key}")] = json.dumps(value)
        updated = len(provided)
        resolved = self._resolve_recall(provided)
        if append:
            resolved["append"] = True
        event = {
            "timestamp": int(time.time()),
            "queue_id": request.match_info["queue_id"],
            "parameters": resolved,
        }
        if self.v >= (6, 13, 0):
            event["user_id"] = caller.user.user_id
        self.recall_events.append(event)
        return _json(
            {
                "status": "success",
                "queue_id": request.match_info["queue_id"],
                "updated_count": updated,
                "parameters": resolved,
            }
        )

    def _validate_recall(self, body: Any) -> list[dict[str, Any]]:
        if not isinstance(body, dict):
            return [missing(["body"])]
        errors = []
        allowed = set(self._recall_fields())
        for key, value in body.items():
            loc = ["body", key]
            if key not in allowed:
                errors.append(
                    {
                        "type": "extra_forbidden",
                        "loc": loc,
                        "msg": "Extra inputs are not permitted",
                        "input": value,
                    }
                )
            elif value is None:
                continue
            elif key in RECALL_STR and not isinstance(value, str):
                errors.append(
                    {
                        "type": "string_type",
                        "loc": loc,
                        "msg": "Input should be a valid string",
                        "input": value,
                    }
                )
            elif key in RECALL_INT_MIN and (not isinstance(value, int) or isinstance(value, bool)):
                errors.append(
                    {
                        "type": "int_type",
                        "loc": loc,
                        "msg": "Input should be a valid integer",
                        "input": value,
                    }
                )
            elif key in RECALL_INT_MIN and value < RECALL_INT_MIN[key]:
                limit = RECALL_INT_MIN[key]
                errors.append(
                    {
                        "type": "greater_than_equal",
                        "loc": loc,
                        "input": value,
                        "msg": f"Input should be greater than or equal to {limit}",
                        "ctx": {"ge": limit},
                    }
                )
            elif key in RECALL_UNIT and not (isinstance(value, int | float) and 0 <= value <= 1):
                errors.append(
                    {
                        "type": "less_than_equal",
                        "loc": loc,
                        "input": value,
                        "msg": "Input should be less than or equal to 1",
                    }
                )
            elif key in RECALL_BOOL and not isinstance(value, bool):
                errors.append(
                    {
                        "type": "bool_type",
                        "loc": loc,
                        "msg": "Input should be a valid boolean",
                        "input": value,
                    }
                )
            elif key in RECALL_LISTS:
                errors.extend(_validate_list(key, value))
        return errors

    def _recall_image_access(self, params: dict[str, Any], user: FakeUser) -> str | None:
        if self.v < (6, 13, 0) or user.is_admin:
            return None
        for key in ("control_layers", "ip_adapters", "reference_images"):
            for entry in params.get(key) or []:
                name = entry.get("image_name")
                image = self.images.get(name or "")
                if name is None or image is None or image.user_id == user.user_id:
                    continue
                if not self.can_read_image(image, user):
                    return name
        return None

    def _model_key(self, name: str, *types: str) -> str | None:
        for model_type in types:
            for model in self.models:
                if model["name"] == name and model["type"] == model_type:
                    return model["key"]
        return None

    def _image_info(self, name: str | None) -> dict[str, Any] | None:
        image = self.images.get(name or "")
        if image is None:
            return None
        return {"image_name": image.image_name, "width": image.width, "height": image.height}

    def _resolve_recall(self, provided: dict[str, Any]) -> dict[str, Any]:
        out = dict(provided)
        if isinstance(out.get("model"), str):
            key = self._model_key(out["model"], "main")
            if key:
                out["model"] = key
            else:
                del out["model"]
        if out.get("loras") is not None:
            out["loras"] = [
                {"model_key": key, "weight": e["weight"], "is_enabled": e["is_enabled"]}
                for e in out["loras"]
                if (key := self._model_key(e["model_name"], "lora"))
            ]
        for list_key, types in (
            ("control_layers", ("controlnet", "t2i_adapter", "lora")),
            ("ip_adapters", ("ip_adapter", "flux_redux")),
        ):
            if out.get(list_key) is None:
                continue
            resolved = []
            for entry in out[list_key]:
                key = self._model_key(entry["model_name"], *types)
                if not key:
                    continue
                config = {"model_key": key, "weight": entry["weight"]}
                info = self._image_info(entry.get("image_name"))
                if info:
                    config["image"] = info
                for extra in (
                    "begin_step_percent",
                    "end_step_percent",
                    "control_mode",
                    "method",
                    "image_influence",
                ):
                    if entry.get(extra) is not None:
                        config[extra] = entry[extra]
                resolved.append(config)
            out[list_key] = resolved
        if out.get("reference_images") is not None:
            out["reference_images"] = [
                {"image": info}
                for e in out["reference_images"]
                if (info := self._image_info(e.get("image_name")))
            ]
        return out

    async def h_state_get(self, request: web.Request, caller: Caller) -> web.Response:
        key = request.query.get("key")
        if key is None:
            return detail(422, [missing(["query", "key"])])
        return _json(self.client_state.get((caller.user.user_id, key)))

    async def h_state_keys(self, request: web.Request, caller: Caller) -> web.Response:
        prefix = request.query.get("prefix")
        if prefix is None:
            return detail(422, [missing(["query", "prefix"])])
        return _json(
            [
                k
                for (uid, k) in self.client_state
                if uid == caller.user.user_id and k.startswith(prefix)
            ]
        )

    async def h_models(self, request: web.Request, caller: Caller) -> web.Response:
        wanted = request.query.get("model_type")
        models = [m for m in self.models if wanted is None or m["type"] == wanted]
        return _json({"models": models})


def _b64(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _parse_json(text: Any) -> dict[str, Any] | None:
    try:
        value = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


async def _read_json(request: web.Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        return None


def _nested_defaults(key: str, value: Any) -> Any:
    if key not in NESTED_DEFAULTS or not isinstance(value, list):
        return value
    return [{**NESTED_DEFAULTS[key], **entry} for entry in value]


def _validate_list(key: str, value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        return [
            {
                "type": "list_type",
                "loc": ["body", key],
                "msg": "Input should be a valid list",
                "input": value,
            }
        ]
    errors = []
    required = "image_name" if key == "reference_images" else "model_name"
    for index, entry in enumerate(value):
        loc = ["body", key, index]
        if not isinstance(entry, dict):
            errors.append(
                {
                    "type": "model_type",
                    "loc": loc,
                    "input": entry,
                    "msg": "Input should be a valid dictionary or object",
                }
            )
        elif not isinstance(entry.get(required), str):
            errors.append(missing([*loc, required]))
    return errors
