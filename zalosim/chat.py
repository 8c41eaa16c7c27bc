"""``zalo-chat``: talk to an OA as a citizen, through the simulator, from a terminal.

Everything the citizen sees is Vietnamese. Typing sends a ``user_send_text``; commands share a
location, send a photo or sticker, follow/unfollow, or answer a request for personal info; the
OA's replies are polled from the control API and printed as they arrive, buttons as numbered
choices.
"""

import argparse
import asyncio
import base64
import contextlib
import random
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from zalosim import rules
from zalosim.settings import SimSettings

POLL_SECONDS = 0.5
PROMPT = "Bạn: "

HELP = """\
Gõ tin nhắn rồi nhấn Enter để gửi (có dấu hay không dấu đều được).
  /loc <vĩ độ> <kinh độ> [tên địa điểm]   chia sẻ vị trí, ví dụ: /loc 10.7925 106.6283 Chợ Tân Phú
  /photo [đường dẫn ảnh]                  gửi ảnh PNG/JPEG (không có đường dẫn: ảnh mẫu)
  /sticker                                gửi nhãn dán
  /follow  /unfollow                      quan tâm / bỏ quan tâm OA
  /info                                   chia sẻ thông tin cá nhân khi OA yêu cầu
  <số>                                    chọn nút trong tin nhắn gần nhất của OA
  /help                                   xem lại hướng dẫn
  /quit                                   thoát"""


# -- pure parts: commands, rendering, button choices ----------------------------------------------


@dataclass(frozen=True)
class Command:
    """One line typed by the citizen, parsed."""

    name: str  # text | choice | loc | photo | sticker | follow | unfollow | info | help | quit | empty | error
    text: str = ""
    number: int = 0
    latitude: float = 0.0
    longitude: float = 0.0
    path: str | None = None


def parse_command(line: str) -> Command:
    line = line.strip()
    if not line:
        return Command("empty")
    if line.isdigit():
        return Command("choice", number=int(line))
    if not line.startswith("/"):
        return Command("text", text=line)
    head, _, rest = line.partition(" ")
    head, rest = head.lower(), rest.strip()
    if head in ("/quit", "/exit", "/thoat"):
        return Command("quit")
    if head in ("/help", "/huongdan"):
        return Command("help")
    if head in ("/follow", "/unfollow", "/sticker", "/info"):
        return Command(head[1:])
    if head == "/photo":
        return Command("photo", path=rest or None)
    if head == "/loc":
        parts = rest.split(maxsplit=2)
        try:
            latitude, longitude = float(parts[0]), float(parts[1])
        except (IndexError, ValueError):
            return Command("error", text="Cú pháp: /loc <vĩ độ> <kinh độ> [tên địa điểm]")
        if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
            return Command("error", text="Vĩ độ hoặc kinh độ không hợp lệ.")
        return Command("loc", latitude=latitude, longitude=longitude, text=parts[2] if len(parts) > 2 else "")
    return Command("text", text=line)  # e.g. "/abc" typed on purpose: Zalo would send it as text


@dataclass(frozen=True)
class Choice:
    title: str
    type: str
    payload: Any


@dataclass(frozen=True)
class ChoiceOutcome:
    """What tapping a button does: send its payload as text, or just show something."""

    send_text: str | None = None
    show: str | None = None


def resolve_choice(choice: Choice) -> ChoiceOutcome:
    """oa.query buttons send their payload as a plain text message (§1.6); the others open things."""
    payload = choice.payload if isinstance(choice.payload, dict) else {}
    if choice.type in rules.QUERY_BUTTON_TYPES:
        return ChoiceOutcome(send_text=str(choice.payload))
    if choice.type == "oa.open.url":
        return ChoiceOutcome(show=f"🔗 Mở liên kết: {payload.get('url', '')}")
    if choice.type == "oa.open.phone":
        return ChoiceOutcome(show=f"📞 Gọi số {payload.get('phone_code', '')}")
    if choice.type == "oa.open.sms":
        return ChoiceOutcome(show=f"✉️ Nhắn tin tới {payload.get('phone_code', '')}: {payload.get('content', '')}")
    return ChoiceOutcome(show="Nút này chưa được hỗ trợ.")


def render_message(oa_name: str, message: dict[str, Any]) -> tuple[list[str], list[Choice]]:
    """Lines to print for one OA message, and its buttons as numbered choices."""
    lines: list[str] = []
    kind = message.get("type")
    text = message.get("text") or ""
    if kind == "image":
        lines.append(f"[{oa_name}] 🖼  Ảnh: {message.get('image_url', '')}")
        if text:
            lines.append(f"    {text}")
    elif kind == "request_user_info":
        for element in message.get("elements") or []:
            lines.append(f"[{oa_name}] 📋 {element.get('title', '')} – {element.get('subtitle', '')}")
        lines.append("    Gõ /info để chia sẻ thông tin của bạn với OA.")
    else:
        text_lines = text.splitlines() or [""]
        lines.append(f"[{oa_name}] {text_lines[0]}")
        lines.extend(f"    {line}" for line in text_lines[1:])
    choices = [Choice(b["title"], b["type"], b.get("payload")) for b in message.get("buttons") or []]
    lines.extend(f"    [{number}] {choice.title}" for number, choice in enumerate(choices, start=1))
    if choices:
        lines.append("    (Gõ số để chọn)")
    return lines, choices


def render_broadcast(oa_name: str, broadcast: dict[str, Any]) -> list[str]:
    return [f"[{oa_name}] 📰 Bài viết mới: {title}" for title in broadcast.get("titles") or []]


# -- the session ----------------------------------------------------------------------------------


def _read_file(path: str) -> bytes:
    return Path(path).expanduser().read_bytes()


class SimulatorUnavailable(Exception):
    pass


@dataclass
class ChatSession:
    """A citizen talking to one OA through the simulator's control API."""

    http: aiohttp.ClientSession
    base_url: str
    oa_key: str
    oa_name: str
    user_id: str
    display_name: str | None = None
    output: Callable[[str], None] = print
    choices: list[Choice] = field(default_factory=list)
    message_cursor: int = 0
    broadcast_cursor: int = 0
    following: bool = False

    async def _request(self, method: str, path: str, body: Any = None) -> Any:
        try:
            async with self.http.request(method, self.base_url + path, json=body) as response:
                data = await response.json(content_type=None)
                if response.status >= 400:
                    raise SimulatorUnavailable(str(data.get("error") if isinstance(data, dict) else data))
                return data
        except aiohttp.ClientError as exc:
            raise SimulatorUnavailable(str(exc)) from exc

    async def start(self) -> None:
        health = await self._request("GET", "/_sim/health")
        self.broadcast_cursor = int(health.get("last_seq", 0))
        state = await self._request("GET", f"/_sim/users/{self.oa_key}/{self.user_id}")
        self.following = bool(state.get("follower"))

    async def act(self, action: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        payload = dict(body or {})
        if self.display_name:
            payload["display_name"] = self.display_name
        result = await self._request("POST", f"/_sim/users/{self.oa_key}/{self.user_id}/{action}", payload)
        if action in ("follow", "unfollow"):
            self.following = action == "follow"
        if result.get("delivery", {}).get("status") != "delivered":
            self.output("    (Tin nhắn chưa tới được hệ thống của OA – Zalo sẽ tự gửi lại sau.)")
        return result

    async def poll(self) -> None:
        """Print what the OA sent since the last poll."""
        query = f"oa_key={self.oa_key}&user_id={self.user_id}&since={self.message_cursor}"
        page = await self._request("GET", f"/_sim/messages?{query}")
        for message in page["items"]:
            lines, choices = render_message(self.oa_name, message)
            for line in lines:
                self.output(line)
            if choices:
                self.choices = choices
        self.message_cursor = page["next_since"]
        page = await self._request("GET", f"/_sim/broadcasts?oa_key={self.oa_key}&since={self.broadcast_cursor}")
        for broadcast in page["items"]:
            if self.following:
                for line in render_broadcast(self.oa_name, broadcast):
                    self.output(line)
        self.broadcast_cursor = page["next_since"]

    async def handle(self, command: Command, ask: Callable[[str], Any]) -> bool:
        """Carry out one command; False when the citizen wants to leave."""
        name = command.name
        if name == "quit":
            return False
        if name == "help":
            self.output(HELP)
        elif name == "error":
            self.output(command.text)
        elif name == "text":
            await self.act("text", {"text": command.text})
        elif name == "choice":
            await self._choose(command.number)
        elif name == "loc":
            body: dict[str, Any] = {"latitude": command.latitude, "longitude": command.longitude}
            if command.text:
                body["name"] = command.text
            await self.act("location", body)
            self.output("    (Đã chia sẻ vị trí)")
        elif name == "photo":
            await self._photo(command.path)
        elif name == "sticker":
            await self.act("sticker")
            self.output("    (Đã gửi nhãn dán)")
        elif name in ("follow", "unfollow"):
            await self.act(name)
            self.output("    (Bạn đã quan tâm OA)" if name == "follow" else "    (Bạn đã bỏ quan tâm OA)")
        elif name == "info":
            await self._share_info(ask)
        return True

    async def _choose(self, number: int) -> None:
        if not 1 <= number <= len(self.choices):
            if self.choices:
                self.output(f"Vui lòng chọn số từ 1 đến {len(self.choices)}.")
            else:
                await self.act("text", {"text": str(number)})  # no buttons on screen: just a number
            return
        outcome = resolve_choice(self.choices[number - 1])
        if outcome.send_text is not None:
            await self.act("text", {"text": outcome.send_text})
        elif outcome.show:
            self.output(f"    {outcome.show}")

    async def _photo(self, path: str | None) -> None:
        body: dict[str, Any] = {}
        if path:
            try:
                data = await asyncio.to_thread(_read_file, path)
            except OSError:
                self.output(f"Không đọc được tệp ảnh: {path}")
                return
            if rules.sniff_image(data) is None:
                self.output("Chỉ gửi được ảnh PNG hoặc JPEG.")
                return
            body["image_base64"] = base64.b64encode(data).decode("ascii")
        await self.act("image", body)
        self.output("    (Đã gửi ảnh)")

    async def _share_info(self, ask: Callable[[str], Any]) -> None:
        name = (await ask("Họ và tên: ")).strip()
        phone = (await ask("Số điện thoại: ")).strip()
        if not name or not phone:
            self.output("Cần có họ tên và số điện thoại.")
            return
        address = (await ask("Địa chỉ (số nhà, đường): ")).strip()
        ward = (await ask("Phường: ")).strip()
        await self.act("submit_info", {"name": name, "phone": phone, "address": address, "ward": ward})
        self.output("    (Đã chia sẻ thông tin với OA)")


# -- terminal plumbing ----------------------------------------------------------------------------


class Terminal:
    """Reads stdin on a daemon thread (so Ctrl-C and /quit never wait on a blocked read) and prints
    the OA's messages above the prompt while the citizen may be typing."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._queue: asyncio.Queue[str | None] = asyncio.Queue()
        self._loop = loop
        self._prompt: str | None = None  # the prompt currently on screen
        threading.Thread(target=self._pump, daemon=True, name="zalo-chat-stdin").start()

    def _pump(self) -> None:
        for line in sys.stdin:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, line)
        self._loop.call_soon_threadsafe(self._queue.put_nowait, None)

    def say(self, line: str) -> None:
        if self._prompt is None:
            sys.stdout.write(f"{line}\n")
        else:
            sys.stdout.write(f"\r\033[K{line}\n{self._prompt}")  # \033[K: clear the prompt line first
        sys.stdout.flush()

    async def ask(self, prompt: str) -> str:
        if self._prompt != prompt:
            sys.stdout.write(prompt)
            sys.stdout.flush()
        self._prompt = prompt
        line = await self._queue.get()
        self._prompt = None
        if line is None:
            raise EOFError
        return line.rstrip("\n")


async def _choose_oa(terminal: Terminal, oas: list[dict[str, Any]], wanted: str | None) -> dict[str, Any]:
    by_key = {oa["key"]: oa for oa in oas}
    if wanted:
        if wanted in by_key:
            return by_key[wanted]
        print(f"Không có OA với mã {wanted!r}.")
    print("Các tài khoản Official Account:")
    for number, oa in enumerate(oas, start=1):
        print(f"  {number:>2}. {oa['display_name']} ({oa['key']})")
    while True:
        answer = (await terminal.ask("Chọn OA (gõ số thứ tự hoặc mã): ")).strip()
        if answer.isdigit() and 1 <= int(answer) <= len(oas):
            return oas[int(answer) - 1]
        if answer in by_key:
            return by_key[answer]
        print("Lựa chọn không hợp lệ, vui lòng thử lại.")


async def _choose_user(terminal: Terminal, wanted: str | None) -> str:
    if wanted and rules.is_zalo_id(wanted):
        return wanted
    while True:
        answer = (await terminal.ask("Mã người dùng Zalo của bạn (Enter để tạo ngẫu nhiên): ")).strip()
        if not answer:
            return str(random.randrange(10**18, 2**63 - 1))
        if rules.is_zalo_id(answer):
            return answer
        print("Mã người dùng là một dãy số (không bắt đầu bằng 0), ví dụ 4572947693969771653.")


async def _poll_forever(session: ChatSession) -> None:
    while True:
        with contextlib.suppress(SimulatorUnavailable):
            await session.poll()
        await asyncio.sleep(POLL_SECONDS)


async def run_chat(base_url: str, oa_key: str | None, user_id: str | None, name: str | None) -> int:
    terminal = Terminal(asyncio.get_running_loop())
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
        try:
            async with http.get(base_url + "/_sim/oas") as response:
                registry = await response.json()
        except aiohttp.ClientError:
            print(f"Không kết nối được tới máy chủ mô phỏng Zalo tại {base_url}. Hãy chạy `zalosim` trước.")
            return 1
        print("Trò chuyện với Official Account trên Zalo (bản mô phỏng)")
        try:
            oa = await _choose_oa(terminal, registry["oas"], oa_key)
            user = await _choose_user(terminal, user_id)
        except EOFError:
            return 0
        session = ChatSession(
            http, base_url, oa["key"], oa["display_name"], user, display_name=name, output=terminal.say
        )
        await session.start()
        print(f"\nBạn đang trò chuyện với {oa['display_name']} – mã người dùng {user}.")
        print(HELP + "\n")
        poller = asyncio.create_task(_poll_forever(session))
        try:
            while True:
                try:
                    line = await terminal.ask(PROMPT)
                except EOFError:
                    break
                try:
                    if not await session.handle(parse_command(line), terminal.ask):
                        break
                except SimulatorUnavailable as exc:
                    terminal.say(f"Không gửi được: {exc}")
                except EOFError:
                    break
        finally:
            poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await poller
        print("Tạm biệt!")
    return 0


def main() -> None:
    settings = SimSettings()
    parser = argparse.ArgumentParser(prog="zalo-chat", description="Chat with an OA as a citizen via zalosim.")
    parser.add_argument("--url", default=f"http://{settings.host}:{settings.port}", help="simulator base URL")
    parser.add_argument("--oa", help="OA key from the registry (e.g. tanphu)")
    parser.add_argument("--user", help="the citizen's Zalo user id (decimal)")
    parser.add_argument("--name", help="display name the OA sees")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(asyncio.run(run_chat(args.url.rstrip("/"), args.oa, args.user, args.name)))


if __name__ == "__main__":
    main()
