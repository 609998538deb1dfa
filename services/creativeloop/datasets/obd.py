"""The Open Bandit Dataset sample: fetched once at install time, read without obp or pandas.

The Open Bandit Dataset (Saito, Aihara, Matsutani & Narita, 2021; ZOZOTOWN fashion e-commerce,
CC BY 4.0) logs which of 80 fashion items a recommendation widget showed in each of 3 positions,
whether the user clicked, and the probability that the logging policy showed that item there.
Two logging policies ran on the same site in the same week: **uniform random** and
**Bernoulli Thompson sampling** (BTS). The ``obp==0.4.1`` wheel ships a 10,000-row sample of
each, per campaign (``all``, ``men``, ``women``), as ``obp/dataset/obd/<policy>/<campaign>/``,
and the BTS prior ZOZOTOWN used at the start of data collection as
``obp/policy/conf/prior_bts.yaml``.

`fetch_obd` (``creativeloop data fetch-obd``) downloads that wheel with pip (``--no-deps``: obp
itself is never installed; its dataset class breaks on pandas >= 2 anyway), extracts just those
files, verifies each sha256 and writes them atomically into a data directory. `load_obd` reads
one policy x campaign with pyarrow into numpy arrays: item, position, click, propensity, user
features (integer codes), user-item affinity, timestamp, and the item context. Nothing here
downloads at run time.

Columns of ``<campaign>.csv``: an unnamed row index, ``timestamp``, ``item_id``, ``position``
(1-3), ``click``, ``propensity_score``, ``user_feature_0..3`` (hashed categories) and
``user-item_affinity_0..<n_items - 1>``. ``item_context.csv``: an unnamed index, ``item_id``,
``item_feature_0`` (numeric) and ``item_feature_1..3`` (hashed categories).
"""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
from numpy.typing import NDArray

from creativeloop.datasets.wheels import downloaded_wheel, sha256_file
from creativeloop.kit.files import write_atomically

WHEEL_REQUIREMENT = "obp==0.4.1"
FETCH_COMMAND = "creativeloop data fetch-obd"
DEFAULT_DATA_DIR = Path("var/data/obd")
SOURCE = "Open Bandit Dataset sample (ZOZOTOWN, CC BY 4.0), via obp 0.4.1"
BEHAVIORS = ("random", "bts")
CAMPAIGNS = ("all", "men", "women")
PRIOR_FILE = "prior_bts.yaml"
_DATA_PREFIX = "obp/dataset/obd/"
_PRIOR_MEMBER = "obp/policy/conf/prior_bts.yaml"

#: Every file `fetch_obd` writes (relative to the data directory) and its sha256.
FILES: dict[str, str] = {
    "random/all/all.csv": "7168295b6e0a9eabcf3392320a5dd434e542b68e705d5cd9491499af589812f1",
    "random/all/item_context.csv": "eba04cc23d5f130a93ff174c5392986882b94c3839433cb8143870eaa6221358",
    "random/men/men.csv": "ede6d08c6877f99cd3770f7d09e26c738e6aa6de4445ccccfb1356ba5d06b1eb",
    "random/men/item_context.csv": "6d855c2b7e917d0448d71bbe62c023147495882c0fdc8c41e86fef86abf9fe09",
    "random/women/women.csv": "e65f3bd3beb17664fa69cc129bf7bf852a775f8ffa630506e505fc905315bb34",
    "random/women/item_context.csv": "b1ca4905f97703d196004f2ad4552c1e90c2afad8b50688d333b0d2dc0b33147",
    "bts/all/all.csv": "0ad874e4dbf6902f0845dd478ad8dde5ef6903583d3ffaace78411bdad064106",
    "bts/all/item_context.csv": "5d4359ba1cfa3ae88f0f1bae66bd633859fe6323817183632ee57b83539d9153",
    "bts/men/men.csv": "db6d1f7ed2d591ba521533e45286d4c1fba7fe57a8ad2e80342210335f43c527",
    "bts/men/item_context.csv": "3b411ed6b0471316321a6b93f4f756bb25888eac6218cd71d0b603d41d85732d",
    "bts/women/women.csv": "e5d1b49a39b608585a2f3014a3f54970430cd37a495c1b73fceb85cdf428a5b8",
    "bts/women/item_context.csv": "a56295bad066a558eb783055afd9279f5f4e209a4776eafc22151c53f0ac89d4",
    PRIOR_FILE: "81a54fbdc184021ccc62ab97de81ec35461c032e3d7f99ccaa0a9745f732d251",
}

N_USER_FEATURES = 4
USER_FEATURES = tuple(f"user_feature_{j}" for j in range(N_USER_FEATURES))
ITEM_CATEGORIES = ("item_feature_1", "item_feature_2", "item_feature_3")

Floats = NDArray[np.float64]
Ints = NDArray[np.int64]


class OBDMissing(FileNotFoundError):
    """The Open Bandit Dataset sample is not in the data directory: fetch it at install time."""


# --------------------------------------------------------------------------- fetching


def _member(relative: str) -> str:
    return _PRIOR_MEMBER if relative == PRIOR_FILE else _DATA_PREFIX + relative


def _wanted(campaigns: Iterable[str]) -> list[str]:
    chosen = set(campaigns)
    unknown = chosen - set(CAMPAIGNS)
    if unknown:
        raise ValueError(f"unknown campaign(s) {sorted(unknown)}; known: {', '.join(CAMPAIGNS)}")
    return [f for f in FILES if f == PRIOR_FILE or f.split("/")[1] in chosen]


def extract_obd(wheel: Path, data_dir: Path, campaigns: Iterable[str] = CAMPAIGNS) -> list[Path]:
    """Copy the sample's files for `campaigns` (and the BTS prior) out of an obp wheel.

    Every file is checked against `FILES` before anything is written; each is written next to
    its target and renamed into place, so a reader never sees a partial file.
    """
    wanted = _wanted(campaigns)
    contents: dict[str, bytes] = {}
    with zipfile.ZipFile(wheel) as archive:
        for relative in wanted:
            try:
                content = archive.read(_member(relative))
            except KeyError as exc:
                raise ValueError(f"{wheel.name} has no {_member(relative)}") from exc
            digest = hashlib.sha256(content).hexdigest()
            if digest != FILES[relative]:
                raise ValueError(
                    f"{_member(relative)} in {wheel.name} has sha256 {digest}, expected {FILES[relative]}"
                )
            contents[relative] = content
    for relative, content in contents.items():
        write_atomically(data_dir / relative, content)
    return [data_dir / relative for relative in wanted]


def _present(data_dir: Path, wanted: list[str]) -> bool:
    return all((data_dir / f).is_file() and sha256_file(data_dir / f) == FILES[f] for f in wanted)


def fetch_obd(data_dir: Path = DEFAULT_DATA_DIR, campaigns: Iterable[str] = CAMPAIGNS) -> Path:
    """Install-time step: put the Open Bandit Dataset sample into `data_dir` (idempotent).

    Downloads the ``obp==0.4.1`` wheel with pip (1.3 MB; the package registry is the only
    network these machines have), extracts the CSVs and the BTS prior, and verifies their
    sha256. Files already in place with the right digests are kept: no download then.
    Returns `data_dir`.
    """
    wanted = _wanted(campaigns)
    if _present(data_dir, wanted):
        return data_dir
    with downloaded_wheel(WHEEL_REQUIREMENT, "obp-*.whl") as wheel:
        extract_obd(wheel, data_dir, campaigns)
    return data_dir


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class ItemContext:
    """Per-item features, indexed by item id (0 .. n_items - 1)."""

    numeric: Floats  # item_feature_0, shape (n_items,)
    categories: Ints  # item_feature_1..3 as integer codes, shape (n_items, 3)
    category_levels: tuple[int, ...]  # number of distinct values of each categorical feature


@dataclass(frozen=True)
class OBDLogs:
    """Logged bandit feedback of one behaviour policy and campaign, sorted by time.

    One row is one impression: `item` shown at `position` (0-based: the CSV's 1-3 minus 1)
    with logging probability `propensity`; `click` is 0 or 1. `user_features[i, j]` is the code
    of ``user_feature_j`` (codes index the sorted distinct values of the file), `affinity[i, a]`
    is ``user-item_affinity_a``.
    """

    behavior: str
    campaign: str
    timestamp: NDArray[np.datetime64]
    item: Ints
    position: Ints
    click: Floats
    propensity: Floats
    user_features: Ints
    user_levels: tuple[int, ...]
    affinity: Floats
    items: ItemContext

    @property
    def n_rounds(self) -> int:
        return len(self.item)

    @property
    def n_items(self) -> int:
        return int(self.affinity.shape[1])

    @property
    def n_positions(self) -> int:
        return int(self.position.max()) + 1 if self.n_rounds else 0

    @property
    def ctr(self) -> float:
        return float(self.click.mean()) if self.n_rounds else 0.0

    def take(self, rows: NDArray[np.int64] | slice) -> OBDLogs:
        """The logs of `rows` only (same codes, same item context)."""
        return OBDLogs(
            behavior=self.behavior,
            campaign=self.campaign,
            timestamp=self.timestamp[rows],
            item=self.item[rows],
            position=self.position[rows],
            click=self.click[rows],
            propensity=self.propensity[rows],
            user_features=self.user_features[rows],
            user_levels=self.user_levels,
            affinity=self.affinity[rows],
            items=self.items,
        )

    def split(self, train_fraction: float = 0.5) -> tuple[OBDLogs, OBDLogs]:
        """(earlier rows, later rows): a split in time, as a policy learned online would see it."""
        if not 0.0 < train_fraction < 1.0:
            raise ValueError("train_fraction must be in (0, 1)")
        cut = round(self.n_rounds * train_fraction)
        return self.take(slice(0, cut)), self.take(slice(cut, self.n_rounds))

    def user_one_hot(self) -> Floats:
        """One-hot user features, shape (n_rounds, sum(user_levels)), one block per feature."""
        blocks = [np.eye(levels)[self.user_features[:, j]] for j, levels in enumerate(self.user_levels)]
        return np.hstack(blocks) if blocks else np.zeros((self.n_rounds, 0))


def obd_paths(data_dir: Path, behavior: str, campaign: str) -> tuple[Path, Path]:
    """(log CSV, item context CSV) of `behavior` x `campaign` under `data_dir`."""
    if behavior not in BEHAVIORS:
        raise ValueError(f"unknown behavior policy {behavior!r}; known: {', '.join(BEHAVIORS)}")
    if campaign not in CAMPAIGNS:
        raise ValueError(f"unknown campaign {campaign!r}; known: {', '.join(CAMPAIGNS)}")
    folder = data_dir / behavior / campaign
    return folder / f"{campaign}.csv", folder / "item_context.csv"


def _codes(values: list[str]) -> tuple[Ints, int]:
    levels = sorted(set(values))
    index = {v: i for i, v in enumerate(levels)}
    return np.array([index[v] for v in values], dtype=np.int64), len(levels)


def _column(table: pa.Table, name: str, path: Path) -> pa.ChunkedArray:
    if name not in table.column_names:
        raise ValueError(f"{path} has no column {name!r}")
    return table.column(name)


def read_item_context(path: Path) -> ItemContext:
    table = pacsv.read_csv(path)
    item_ids = _column(table, "item_id", path).to_numpy().astype(np.int64)
    if sorted(item_ids.tolist()) != list(range(len(item_ids))):
        raise ValueError(f"{path}: item ids are not 0 .. {len(item_ids) - 1}")
    order = np.argsort(item_ids)
    numeric = _column(table, "item_feature_0", path).to_numpy().astype(np.float64)[order]
    codes, levels = [], []
    for name in ITEM_CATEGORIES:
        values = [str(v) for v in _column(table, name, path).to_pylist()]
        c, n = _codes(values)
        codes.append(c[order])
        levels.append(n)
    return ItemContext(numeric, np.stack(codes, axis=1), tuple(levels))


def read_logs(path: Path, items: ItemContext, behavior: str = "", campaign: str = "") -> OBDLogs:
    """Read one log CSV (the format above) into arrays, sorted by timestamp (stable)."""
    n_items = len(items.numeric)
    affinity_names = [f"user-item_affinity_{a}" for a in range(n_items)]
    types: dict[str, pa.DataType] = {
        "timestamp": pa.timestamp("us", tz="UTC"),
        "item_id": pa.int64(),
        "position": pa.int64(),
        "click": pa.int64(),
        "propensity_score": pa.float64(),
        **{name: pa.string() for name in USER_FEATURES},
        **{name: pa.float64() for name in affinity_names},
    }
    table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(column_types=types))
    missing = [name for name in types if name not in table.column_names]
    if missing:
        raise ValueError(f"{path} lacks columns {missing[:5]}{' ...' if len(missing) > 5 else ''}")
    timestamp = table.column("timestamp").to_numpy().astype("datetime64[us]")
    order = np.argsort(timestamp, kind="stable")
    item = table.column("item_id").to_numpy().astype(np.int64)
    position = table.column("position").to_numpy().astype(np.int64) - 1
    click = table.column("click").to_numpy().astype(np.float64)
    propensity = table.column("propensity_score").to_numpy().astype(np.float64)
    if item.size and (item.min() < 0 or item.max() >= n_items):
        raise ValueError(f"{path}: item ids outside 0 .. {n_items - 1}")
    if position.size and position.min() < 0:
        raise ValueError(f"{path}: positions must start at 1")
    if not np.isin(click, (0.0, 1.0)).all():
        raise ValueError(f"{path}: clicks must be 0 or 1")
    if np.any(propensity <= 0) or np.any(propensity > 1):
        raise ValueError(f"{path}: propensity scores must lie in (0, 1]")
    codes, levels = [], []
    for name in USER_FEATURES:
        c, n = _codes([str(v) for v in table.column(name).to_pylist()])
        codes.append(c)
        levels.append(n)
    affinity = np.stack([table.column(name).to_numpy().astype(np.float64) for name in affinity_names], axis=1)
    return OBDLogs(
        behavior=behavior,
        campaign=campaign,
        timestamp=timestamp[order],
        item=item[order],
        position=position[order],
        click=click[order],
        propensity=propensity[order],
        user_features=np.stack(codes, axis=1)[order],
        user_levels=tuple(levels),
        affinity=affinity[order],
        items=items,
    )


def load_obd(data_dir: Path = DEFAULT_DATA_DIR, behavior: str = "random", campaign: str = "all") -> OBDLogs:
    """The verified logs of `behavior` ("random" or "bts") x `campaign` in `data_dir`.

    Raises `OBDMissing` naming the fetch command when a file is absent, and `ValueError` when
    one is there with the wrong digest.
    """
    log_path, context_path = obd_paths(data_dir, behavior, campaign)
    for path in (log_path, context_path):
        relative = path.relative_to(data_dir).as_posix()
        if not path.is_file():
            raise OBDMissing(
                f"Open Bandit Dataset file not found at {path}: fetch it once with "
                f"`{FETCH_COMMAND} --data-dir {data_dir}` (downloads {WHEEL_REQUIREMENT} through pip)"
            )
        digest = sha256_file(path)
        if digest != FILES[relative]:
            raise ValueError(f"{path} has sha256 {digest}, expected {FILES[relative]}: run `{FETCH_COMMAND}`")
    return read_logs(log_path, read_item_context(context_path), behavior, campaign)


def parse_bts_prior(text: str) -> dict[str, tuple[Floats, Floats]]:
    """Parse obp's ``prior_bts.yaml`` (campaign -> alpha / beta lists) without a YAML library.

    >>> text = "all:\\n  alpha:\\n    - 2.0\\n    - 3.0\\n  beta:\\n    - 10.0\\n    - 20.0\\n"
    >>> prior = parse_bts_prior(text)
    >>> {k: (a.tolist(), b.tolist()) for k, (a, b) in prior.items()}
    {'all': ([2.0, 3.0], [10.0, 20.0])}
    """
    values: dict[str, dict[str, list[float]]] = {}
    campaign = key = ""
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].rstrip()
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        body = line.strip()
        if indent == 0 and body.endswith(":"):
            campaign, key = body[:-1], ""
            values[campaign] = {}
        elif body.endswith(":") and campaign:
            key = body[:-1]
            values[campaign][key] = []
        elif body.startswith("- ") and campaign and key:
            values[campaign][key].append(float(body[2:]))
        else:
            raise ValueError(f"prior line {number}: cannot read {raw!r}")
    out = {}
    for name, params in values.items():
        alpha, beta = params.get("alpha"), params.get("beta")
        if not alpha or not beta or len(alpha) != len(beta):
            raise ValueError(f"prior of {name!r} needs alpha and beta lists of the same length")
        out[name] = (np.array(alpha), np.array(beta))
    return out


def load_bts_prior(data_dir: Path = DEFAULT_DATA_DIR, campaign: str = "all") -> tuple[Floats, Floats]:
    """The Beta prior (alpha, beta per item) of ZOZOTOWN's BTS at the start of data collection."""
    path = data_dir / PRIOR_FILE
    if not path.is_file():
        raise OBDMissing(f"{path} not found: fetch it once with `{FETCH_COMMAND} --data-dir {data_dir}`")
    if sha256_file(path) != FILES[PRIOR_FILE]:
        raise ValueError(f"{path} has an unexpected sha256: run `{FETCH_COMMAND}`")
    return parse_bts_prior(path.read_text())[campaign]
