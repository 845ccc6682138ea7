"""A workshop's roster: learners, their prefixes and config files; `init_workshop` writes them.

Layout of a workshop folder (default `workshop/`):

    roster.csv               learner_id,prefix,region,backend,account,config
    workshop.toml            the workshop's own settings (backend, region, prefix base, progress store)
    learners/<id>.toml       one labkit.toml per learner (LABKIT_CONFIG=... or copy to labkit.toml)
    policies/<id>.json       aws, one shared account: the IAM policy that keeps a learner to their prefix
    progress/                local: the records (a shared folder); aws: they go to the workshop's bucket
    helped.jsonl             the dashboard's "helped" marks
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from labkit.config import DEFAULT_REGION, tomllib, validate_prefix, validate_region
from labkit.errors import ConfigError, LabkitError

ROSTER_FIELDS = ("learner_id", "prefix", "region", "backend", "account", "config")
LEARNER_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")
DEFAULT_FOLDER = "workshop"
MAX_LEARNERS = 500


class RosterError(LabkitError):
    """A roster or its input that would let two learners' labs mix."""


@dataclass(frozen=True)
class Learner:
    learner_id: str
    prefix: str
    region: str = DEFAULT_REGION
    backend: str = "local"
    account: str = ""
    config: str = ""  # the learner's labkit.toml, relative to the workshop folder


@dataclass(frozen=True)
class Workshop:
    folder: Path
    name: str  # the prefix base: every learner's prefix starts with it
    backend: str
    region: str
    progress_store: str
    bucket: str = ""
    learners: tuple[Learner, ...] = ()

    def learner(self, learner_id: str) -> Learner:
        for learner in self.learners:
            if learner.learner_id == learner_id:
                return learner
        raise RosterError(f"No learner {learner_id!r} in {self.folder / 'roster.csv'}; "
                          f"it lists {', '.join(learner_.learner_id for learner_ in self.learners[:5])}"
                          f"{' ...' if len(self.learners) > 5 else ''}.")

    @property
    def ids(self) -> set[str]:
        return {learner.learner_id for learner in self.learners}


def prefixes_collide(a: str, b: str) -> bool:
    """Two labs collide when teardown of one would match the other's names (`a` or `a-...`)."""
    return a == b or a.startswith(f"{b}-") or b.startswith(f"{a}-")


def check_learners(learners: list[Learner], source: str = "the roster") -> None:
    """Refuse duplicate ids, invalid ids or prefixes, and prefixes that collide."""
    seen: dict[str, int] = {}
    for row, learner in enumerate(learners, start=2):  # row 1 is the header
        if not LEARNER_ID.match(learner.learner_id):
            raise RosterError(f"{source}, row {row}: learner id {learner.learner_id!r} is not valid: "
                              "use lowercase letters, digits, '-', '_' or '.'.")
        if learner.learner_id in seen:
            raise RosterError(f"{source}: learner id {learner.learner_id!r} appears twice (rows "
                              f"{seen[learner.learner_id]} and {row}); every learner needs an id "
                              "of their own, or their progress records would mix.")
        seen[learner.learner_id] = row
        try:
            validate_prefix(learner.prefix)
        except ConfigError as exc:
            raise RosterError(f"{source}, row {row} ({learner.learner_id}): {exc}") from None
    by_prefix = sorted(learners, key=lambda item: item.prefix)
    for index, learner in enumerate(by_prefix):
        for other in by_prefix[index + 1:]:
            if not other.prefix.startswith(learner.prefix):
                break  # sorted: no later prefix can start with this one
            if prefixes_collide(learner.prefix, other.prefix) and (
                    not learner.account or learner.account == other.account):
                raise RosterError(
                    f"{source}: prefix {other.prefix!r} of {other.learner_id} would collide with "
                    f"prefix {learner.prefix!r} of {learner.learner_id}: a teardown of "
                    f"{learner.learner_id} matches names starting with '{learner.prefix}-'. "
                    "Give every learner a prefix that is not another's followed by '-'.")


def read_roster(path: str | Path) -> list[Learner]:
    path = Path(path)
    if not path.is_file():
        raise RosterError(f"No roster at {path}: create one with `labkit workshop init --learners N`.")
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    missing = {"learner_id", "prefix"} - set(rows[0] if rows else ROSTER_FIELDS)
    if missing:
        raise RosterError(f"{path} lacks the column(s) {', '.join(sorted(missing))}; "
                          f"expected {','.join(ROSTER_FIELDS)}.")
    learners = [Learner(learner_id=(r.get("learner_id") or "").strip(),
                        prefix=(r.get("prefix") or "").strip(),
                        region=(r.get("region") or DEFAULT_REGION).strip(),
                        backend=(r.get("backend") or "local").strip(),
                        account=(r.get("account") or "").strip(),
                        config=(r.get("config") or "").strip()) for r in rows]
    check_learners(learners, str(path))
    return learners


def roster_csv(learners: list[Learner]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=ROSTER_FIELDS, lineterminator="\n")
    writer.writeheader()
    for learner in learners:
        writer.writerow(asdict(learner))
    return out.getvalue()


def read_accounts(path: str | Path, learner_ids: list[str]) -> dict[str, str]:
    """An accounts file: one 12-digit account per line (the i-th learner gets the i-th; a single
    line means one shared account), or `learner_id,account` lines."""
    lines = [line.strip() for line in Path(path).read_text(encoding="utf-8").splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    pairs = [tuple(part.strip() for part in line.split(",", 1)) for line in lines]
    if pairs and pairs[0][0].lower() in ("learner_id", "account"):
        pairs = pairs[1:]  # a header
    for pair in pairs:
        if not re.fullmatch(r"\d{12}", pair[-1]):
            raise RosterError(f"{path}: {pair[-1]!r} is not an AWS account id (12 digits).")
    if pairs and all(len(pair) == 2 for pair in pairs):
        chosen = {learner: account for learner, account in pairs}
        unknown = sorted(set(chosen) - set(learner_ids))
        if unknown:
            raise RosterError(f"{path} names learner(s) {', '.join(unknown)} who are not in this "
                              f"workshop (learner-01 ... learner-{len(learner_ids):02d}).")
        return chosen
    accounts = [pair[-1] for pair in pairs]
    if len(accounts) == 1:
        return dict.fromkeys(learner_ids, accounts[0])
    if len(accounts) != len(learner_ids):
        raise RosterError(f"{path} lists {len(accounts)} accounts for {len(learner_ids)} learners: "
                          "give one shared account, one per learner, or learner_id,account lines.")
    return dict(zip(learner_ids, accounts, strict=True))


def learner_ids(count: int) -> list[str]:
    width = max(2, len(str(count)))
    return [f"learner-{i:0{width}d}" for i in range(1, count + 1)]


def learner_prefix(base: str, index: int, count: int) -> str:
    width = max(2, len(str(count)))
    return f"{base}-{index:0{width}d}"


def learner_toml(learner: Learner, workshop: Workshop) -> str:
    lines = [f"# labkit settings of {learner.learner_id} in workshop {workshop.name!r}.",
             f"# Use it with: export LABKIT_CONFIG=$PWD/{learner.config}  (or copy it to labkit.toml)",
             "[labkit]",
             f'backend = "{learner.backend}"',
             f'region = "{learner.region}"',
             f'prefix = "{learner.prefix}"',
             f'learner_id = "{learner.learner_id}"']
    if learner.account:
        lines.append(f'sandbox_accounts = ["{learner.account}"]')
    lines += ["", "[workshop]", f'name = "{workshop.name}"']
    if workshop.progress_store:
        lines.append(f'progress_store = "{workshop.progress_store}"')
    return "\n".join(lines) + "\n"


def workshop_toml(workshop: Workshop) -> str:
    return "\n".join([
        "# Written by `labkit workshop init`; the workshop commands and the dashboard read it.",
        "[workshop]",
        f'name = "{workshop.name}"',
        f'backend = "{workshop.backend}"',
        f'region = "{workshop.region}"',
        f'progress_store = "{workshop.progress_store}"',
        f'bucket = "{workshop.bucket}"',
    ]) + "\n"


def default_bucket(base: str, account: str | None, region: str) -> str:
    return f"{base}-workshop-{account}-{region}" if account else f"{base}-workshop-{region}"


def init_workshop(folder: str | Path = DEFAULT_FOLDER, learners: int = 1, backend: str = "local",
                  prefix_base: str = "ws1", region: str = DEFAULT_REGION,
                  accounts_file: str | Path | None = None, progress_store: str | None = None,
                  bucket: str | None = None, force: bool = False) -> Workshop:
    """Write roster.csv, workshop.toml and learners/<id>.toml; refuse input that would mix labs."""
    if (Path(folder) / "roster.csv").is_file() and not force:
        raise RosterError(f"{Path(folder) / 'roster.csv'} exists already: a new roster would replace "
                          "the learners' files in the middle of a workshop. Choose another --output, "
                          "or pass --force to start over.")
    if not 1 <= learners <= MAX_LEARNERS:
        raise RosterError(f"--learners {learners}: a workshop has 1 to {MAX_LEARNERS} learners.")
    if backend not in ("local", "aws"):
        raise RosterError(f"--backend {backend!r}: use 'local' or 'aws'.")
    validate_region(region)
    try:
        validate_prefix(learner_prefix(prefix_base, learners, learners))
    except ConfigError as exc:
        raise RosterError(f"--prefix-base {prefix_base!r} does not make valid learner prefixes: "
                          f"{exc}") from None
    folder = Path(folder).resolve()
    ids = learner_ids(learners)
    accounts = read_accounts(accounts_file, ids) if accounts_file else {}
    shared_account = len(set(accounts.values())) == 1 and len(accounts) == len(ids)
    if backend == "aws":
        bucket = bucket or default_bucket(prefix_base, next(iter(accounts.values()))
                                          if shared_account else None, region)
        store = progress_store or f"s3://{bucket}/progress"
    else:
        bucket = bucket or ""
        store = progress_store or str(folder / "progress")
    roster = [Learner(learner_id, learner_prefix(prefix_base, index, learners), region, backend,
                      accounts.get(learner_id, ""), f"learners/{learner_id}.toml")
              for index, learner_id in enumerate(ids, start=1)]
    check_learners(roster, "the new roster")
    workshop = Workshop(folder, prefix_base, backend, region, store, bucket, tuple(roster))
    (folder / "learners").mkdir(parents=True, exist_ok=True)
    (folder / "roster.csv").write_text(roster_csv(roster), encoding="utf-8")
    (folder / "workshop.toml").write_text(workshop_toml(workshop), encoding="utf-8")
    for learner in roster:
        (folder / learner.config).write_text(learner_toml(learner, workshop), encoding="utf-8")
    for stale in (folder / "learners").glob("*.toml"):  # after --force with fewer learners
        if stale.stem not in workshop.ids:
            stale.unlink()
    if not store.startswith("s3://"):
        Path(store).mkdir(parents=True, exist_ok=True)
        (Path(store) / "roster.csv").write_text(roster_csv(roster), encoding="utf-8")
    return workshop


def load_workshop(folder: str | Path = DEFAULT_FOLDER) -> Workshop:
    folder = Path(folder).resolve()
    settings_path = folder / "workshop.toml"
    settings = {}
    if settings_path.is_file():
        settings = tomllib.loads(settings_path.read_text(encoding="utf-8")).get("workshop", {})
    learners = read_roster(folder / "roster.csv")
    backend = settings.get("backend") or (learners[0].backend if learners else "local")
    return Workshop(folder, settings.get("name", ""), backend,
                    settings.get("region") or (learners[0].region if learners else DEFAULT_REGION),
                    settings.get("progress_store") or str(folder / "progress"),
                    settings.get("bucket", ""), tuple(learners))
