"""Loads and validates config.yaml; every problem is reported with its key path."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from ingest.rules import DEFAULT_FIELD_WEIGHTS, Also, RuleError, TopicRule, terms_from_config

DEFAULT_PATH = "config.yaml"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, None: 1}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(b|kb|k|mb|m|gb|g)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {
    "b": 1,
    "k": 1024,
    "kb": 1024,
    "m": 1024**2,
    "mb": 1024**2,
    "g": 1024**3,
    "gb": 1024**3,
}
_TOPIC_ID = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


class ConfigError(Exception):
    """The config is invalid; `problems` holds one `key.path: message` line each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def parse_duration(value: Any, *, allow_zero: bool = False) -> float:
    """`30s`, `15m`, `2h`, `1d` (or a bare number of seconds) to seconds."""
    if isinstance(value, bool):
        raise ValueError("must be a duration such as 30s, 15m, 2h or 1d")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        m = _DURATION.match(str(value))
        if not m:
            raise ValueError(f"must be a duration such as 30s, 15m, 2h or 1d, not {value!r}")
        seconds = float(m.group(1)) * _UNITS[m.group(2)]
    if seconds < 0 or (seconds == 0 and not allow_zero):
        raise ValueError("must be a positive duration")
    return seconds


def parse_size(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    m = _SIZE.match(str(value))
    if not m:
        raise ValueError(f"must be a size such as 512KB or 10MB, not {value!r}")
    return int(float(m.group(1)) * _SIZE_UNITS[(m.group(2) or "b").lower()])


Duration = Annotated[float, BeforeValidator(parse_duration)]
ZeroOrDuration = Annotated[float, BeforeValidator(lambda v: parse_duration(v, allow_zero=True))]
Size = Annotated[int, BeforeValidator(parse_size)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DropsConfig(_Strict):
    path: Path = Path("drops")
    interval: Duration = 10.0
    settle: ZeroOrDuration = 1.0  # a file must hold still this long before it is read
    batch: int = Field(200, ge=1)  # items stored per transaction (files move once it commits)


class ServerConfig(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    base_url: str = "http://127.0.0.1:8080/"

    @field_validator("base_url")
    @classmethod
    def _absolute(cls, v: str) -> str:
        if not re.match(r"^https?://[^/]+", v):
            raise ValueError("must be an absolute http(s) URL such as http://127.0.0.1:8080/")
        return v if v.endswith("/") else v + "/"


class PublishConfig(_Strict):
    title: str = "wiredesk"
    entries: int = Field(50, ge=1, le=1000)  # entries per published feed
    interval: Duration = 30.0  # how often the daemon re-exports when `export_dir` is set
    export_dir: Path | None = None
    websub_hub: str | None = None  # a WebSub hub to ping when a feed changes

    @field_validator("websub_hub")
    @classmethod
    def _hub(cls, v: str | None) -> str | None:
        if v is not None and not re.match(r"^https?://[^/\s]+", v):
            raise ValueError(f"must be an http(s) URL of a WebSub hub, not {v!r}")
        return v


class FetchConfig(_Strict):
    concurrency: int = Field(32, ge=1, le=1000)
    per_host: int = Field(2, ge=1, le=100)
    timeout: Duration = 30.0  # the total deadline of one fetch
    max_bytes: Size = 16 * 1024 * 1024  # cap on the decoded body
    max_redirects: int = Field(5, ge=0, le=20)
    user_agent: str = "wiredesk/0.1 (+https://github.com/wiredesk/wiredesk)"
    tick: Duration = 15.0  # how often the daemon asks the store which sources are due
    allow_private: bool = False  # let redirects lead to loopback/private addresses
    parse_workers: int = Field(-1, ge=-1, le=64)  # parsing processes; -1 CPUs minus one, 0 none
    parse_cpu: Duration = 20.0  # CPU time one document may take in a parse worker
    parse_memory: Size = 1024**3  # address-space cap of one parse worker
    max_items: int = Field(5000, ge=1)  # entries taken from one feed document
    jitter: float = Field(0.1, ge=0, lt=1)  # ± share of each source's delay
    adaptive: bool = False  # follow how often each feed really publishes


class DedupConfig(_Strict):
    """The near-duplicate layer (docs/dedup.md): threshold, time window, representative rule."""

    threshold: float = Field(0.5, gt=0, le=1)  # similarity that makes two copies one story
    update_threshold: float = Field(0.6, gt=0, le=1)  # a marked update may change numbers
    window: Duration = 3 * 86400.0  # copies further apart in time are never compared
    max_entries: int = Field(100_000, ge=100)  # cap on the in-memory index (bounded memory)
    prefer: list[Literal["agency", "earliest", "longest"]] = ["agency", "earliest", "longest"]

    @field_validator("prefer")
    @classmethod
    def _distinct(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError("each criterion may appear once")
        return v


class SourceConfig(_Strict):
    name: str = Field(min_length=1)
    url: str
    interval: Duration = 900.0
    enabled: bool = True

    @field_validator("url")
    @classmethod
    def _http(cls, v: str) -> str:
        if not re.match(r"^https?://[^/\s]+", v):
            raise ValueError(f"must be an http(s) URL, not {v!r}")
        return v


class TopicSourcesConfig(_Strict):
    include: list[str] = []  # articles from these sources always file into the topic
    exclude: list[str] = []  # ... and from these never


class TopicAlsoConfig(_Strict):
    topic: str  # an article in this topic joins too when it mentions one of `require`
    require: list[str] = Field(min_length=1)


class TopicConfig(_Strict):
    """A topic's rule; the term syntax and the term checks live in ingest.rules."""

    title: str | None = None
    description: str | None = None
    threshold: float = Field(gt=0)
    # {term: weight} for every language, or {en: {term: weight}, ru: {...}, any: {...}}
    terms: dict[str, Any] = Field(min_length=1)
    require: list[str] = []
    exclude: list[str] = []
    fields: dict[Literal["title", "lead", "body"], float] = {}
    sources: TopicSourcesConfig = TopicSourcesConfig()
    also: list[TopicAlsoConfig] = []

    @field_validator("terms", mode="before")
    @classmethod
    def _terms(cls, v: Any) -> Any:
        # a plain list of terms means weight 1 each
        if isinstance(v, list):
            return {str(t): 1.0 for t in v}
        return v

    @field_validator("fields")
    @classmethod
    def _field_weights(cls, v: dict[str, float]) -> dict[str, float]:
        if any(w < 0 for w in v.values()):
            raise ValueError("field weights must be 0 or more")
        return v

    def rule(self, tid: str) -> TopicRule:
        terms, flat = terms_from_config(self.terms)
        return TopicRule(
            id=tid,
            threshold=self.threshold,
            terms=terms,
            title=self.title,
            description=self.description,
            require=list(self.require),
            exclude=list(self.exclude),
            field_weights={**DEFAULT_FIELD_WEIGHTS, **{str(k): v for k, v in self.fields.items()}},
            sources_include=list(self.sources.include),
            sources_exclude=list(self.sources.exclude),
            also=[Also(a.topic, list(a.require)) for a in self.also],
            flat_terms=flat,
        )


class Config(_Strict):
    database: Path = Path("data/wiredesk.db")
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["kv", "json"] = "kv"  # one line per event: key=value or a JSON object
    retention: Duration | None = None  # prune stories published longer ago than this
    drops: DropsConfig = DropsConfig()
    server: ServerConfig = ServerConfig()
    publish: PublishConfig = PublishConfig()
    fetch: FetchConfig = FetchConfig()
    dedup: DedupConfig = DedupConfig()
    sources: list[SourceConfig] = []
    topics: dict[str, TopicConfig] = {}

    @model_validator(mode="after")
    def _unique(self) -> Config:
        names = [s.name for s in self.sources]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"sources: duplicate names {dupes}")
        for tid in self.topics:
            if not _TOPIC_ID.match(tid):
                raise ValueError(
                    f"topics.{tid}: topic ids are lower-case letters, digits, '-' and '_'"
                )
        return self

    def topic_rules(self) -> list[TopicRule]:
        return [t.rule(tid) for tid, t in self.topics.items()]


_MESSAGES = {
    "float_parsing": "must be a number",
    "float_type": "must be a number",
    "int_parsing": "must be a whole number",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "bool_parsing": "must be true or false",
    "bool_type": "must be true or false",
    "string_type": "must be text",
    "dict_type": "must be a mapping (key: value)",
    "list_type": "must be a list",
    "model_type": "must be a mapping (key: value)",
    "model_attributes_type": "must be a mapping (key: value)",
    "missing": "is required",
    "extra_forbidden": "unknown key",
}


def _format(err: Any) -> str:
    parts: list[str] = []
    for p in err["loc"]:
        if isinstance(p, int):
            parts.append(f"[{p}]")
        else:
            parts.append(("." if parts else "") + str(p))
    path = "".join(parts) or "(top level)"
    kind = err["type"]
    if kind in _MESSAGES:
        msg = _MESSAGES[kind]
    elif kind == "literal_error":
        msg = "must be one of " + err["ctx"]["expected"]
    else:
        msg = str(err["msg"]).removeprefix("Value error, ")
    if msg.startswith(("sources:", "topics.")):
        return msg
    return f"{path}: {msg}"


def _resolve(cfg: Config, base: Path) -> Config:
    def rel(p: Path) -> Path:
        return p if p.is_absolute() else (base / p).resolve()

    return cfg.model_copy(
        update={
            "database": rel(cfg.database),
            "drops": cfg.drops.model_copy(update={"path": rel(cfg.drops.path)}),
            "publish": cfg.publish.model_copy(
                update={
                    "export_dir": rel(cfg.publish.export_dir) if cfg.publish.export_dir else None
                }
            ),
        }
    )


def parse_config(data: Any, base: Path) -> Config:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            ["(top level): must be a mapping of keys such as database, sources, topics"]
        )
    try:
        cfg = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError([_format(e) for e in exc.errors()]) from None
    try:
        from ingest.topics import Matcher

        Matcher(cfg.topic_rules())
    except RuleError as exc:
        raise ConfigError(exc.problems) from None
    return _resolve(cfg, base)


def config_path(explicit: str | None) -> Path:
    return Path(explicit or os.environ.get("WIREDESK_CONFIG") or DEFAULT_PATH)


def load_config(path: Path) -> Config:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read the config file ({exc.strerror})"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(
            [f"{path}: not valid YAML{where}: {getattr(exc, 'problem', exc)}"]
        ) from None
    return parse_config(data, path.resolve().parent)
