"""The table of bad inputs (issue 12): each is refused with one clear error, before anything starts.

Every row names the input and the words the error must hold; where there is a file, the error
starts with file:line. Nothing here needs a Docker engine: the commands that would ask one get a
fake that fails the test if it is asked to create anything.
"""

from __future__ import annotations

import base64
import math
from pathlib import Path
from typing import Any

import docker.errors
import pytest

from pytest_azchaos import cli
from pytest_azchaos.errors import ConfigError
from pytest_azchaos.images import ImageSet
from pytest_azchaos.topology import load
from pytest_azchaos.traffic import Traffic
from pytest_azchaos.units import parse_duration

GOOD = """\
name: bad
azs: [a, b, c]
services:
  lb:
    role: lb
    image: nginx
  app:
    role: app
    image: example-app
    replicas_per_az: 2
slo:
  failed_requests: 0
"""

BIG = GOOD.replace("[a, b, c]", "[a, b, c, d, e, f]").replace("replicas_per_az: 2", "replicas_per_az: 16").replace(
    "    image: nginx\n", "    image: nginx\n    targets: app\n").replace(
    "slo:", "  worker:\n    role: app\n    image: example-app\n    replicas_per_az: 16\nslo:")

DB = "  etcd:\n    role: etcd\n    image: etcd\n  db:\n    role: db\n    image: postgres-patroni\n"
S3 = "  s3:\n    role: s3\n    image: minio\n    drives_per_node: 1\n"

# (id, environment file, line of the error, words of the error)
ENVIRONMENTS = [
    ("replicas 10000", GOOD.replace("replicas_per_az: 2", "replicas_per_az: 10000"), 10,
     "'replicas_per_az' must be a whole number from 1 to 16 (each one is a container on this host), found 10000"),
    ("replicas 17", GOOD.replace("replicas_per_az: 2", "replicas_per_az: 17"), 10, "from 1 to 16"),
    ("too many AZs", GOOD.replace("[a, b, c]", "[a, b, c, d, e, f, g]"), 2, "at most 6 AZs"),
    ("too many containers", BIG, 3, "this region would have 193 containers; at most 120 run on one host"),
    ("duplicate service", GOOD.replace("  app:\n", "  lb:\n", 1), 7,
     "duplicate key 'lb' (first on line 4, again on line 7)"),
    ("duplicate option", GOOD.replace("    replicas_per_az: 2\n", "    replicas_per_az: 2\n    replicas_per_az: 3\n"),
     11, "duplicate key 'replicas_per_az' (first on line 10, again on line 11)"),
    ("image with spaces", GOOD.replace("image: example-app", 'image: "Example App!@#"'), 9,
     "image 'Example App!@#' is neither a recipe name nor a Docker image reference"),
    ("image uppercase", GOOD.replace("image: example-app", "image: Nginx"), 9, "image 'Nginx' is neither"),
    ("slo unknown", GOOD.replace("failed_requests: 0", "failed_requestz: 0"), 12,
     "slo: unknown SLO 'failed_requestz': expected one of failed_requests"),
    ("slo bad limit", GOOD.replace("failed_requests: 0", 'p99: "12 parsecs"'), 12,
     "slo: SLO p99: expected a duration like '10s', '500ms' or '2m', found '12 parsecs'"),
    ("slo not a mapping", GOOD.replace("slo:\n  failed_requests: 0\n", "slo: [p99]\n"), 11, "'slo' must be a mapping"),
    ("db renewal too slow for the watchdog", GOOD.replace("slo:", DB + "    retry_timeout: 11s\nslo:"), 17,
     "service 'db': loop_wait + retry_timeout (12 s) must stay 2 s under ttl - 8 s (12 s)"),
    # MinIO itself would refuse to start ("parity 2 should be less than or equal to 1"), and the
    # stack would wait for it until its start timed out.
    ("s3 parity above half its drives", GOOD.replace("slo:", S3 + "    parity: 2\nslo:"), 15,
     "service 's3': EC:2 needs at least 4 drives, and this service has 3 (drives_per_node x replicas x AZs); "
     "MinIO allows parity up to 1 here"),
    # 18 drives are two erasure sets of 9 for MinIO: parity is bounded by the set, not by all drives.
    ("s3 parity above half its erasure set", GOOD.replace("slo:", S3.replace("drives_per_node: 1", "drives_per_node: 6")
                                                         + "    parity: 5\nslo:"), 15,
     "service 's3': EC:5 needs at least 10 drives, and this service has erasure sets of 9 (18 drives: "
     "MinIO cuts more than 16 into equal sets); MinIO allows parity up to 4 here, or leave parity out "
     "for MinIO's default (EC:4)"),
    ("s3 unknown encryption", GOOD.replace("slo:", S3 + "    encryption: sse-c\nslo:"), 15,
     "service 's3': unknown encryption 'sse-c'; use one of sse-s3, sse-kms (a bucket's default encryption)"),
]


@pytest.mark.parametrize(("text", "line", "words"), [row[1:] for row in ENVIRONMENTS],
                         ids=[row[0] for row in ENVIRONMENTS])
def test_bad_environment_file_names_file_and_line(tmp_path: Path, text: str, line: int, words: str) -> None:
    path = tmp_path / "env.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:{line}:" if line else f"{path}:"), message
    assert words in message


def test_db_timings_that_leave_the_watchdog_its_margin_load(tmp_path: Path) -> None:
    path = tmp_path / "env.yaml"
    path.write_text(GOOD.replace("slo:", DB + "    ttl: 30s\n    retry_timeout: 11s\nslo:"))
    assert load(path).service("db").options["retry_timeout"] == 11


def test_an_encrypted_bucket_gets_minios_kms_and_no_other_does(tmp_path: Path) -> None:
    """The KMS key is the same on every node and for every attach of a run, and differs between runs."""
    from pytest_azchaos.stack.roles.s3 import default_encryption, kms_environment

    class Secrets:
        def __init__(self, secret: str) -> None:
            self.secret_key = secret

        def secret(self, name: str) -> str:
            assert name == "s3_secret_key"
            return self.secret_key

    path = tmp_path / "env.yaml"
    path.write_text(GOOD.replace("slo:", S3 + "slo:"))
    plain = load(path).service("s3")
    assert (kms_environment(Secrets("x"), plain), default_encryption(plain)) == ({}, None)  # type: ignore[arg-type]
    path.write_text(GOOD.replace("slo:", S3 + "    encryption: sse-kms\nslo:"))
    spec = load(path).service("s3")
    key = kms_environment(Secrets("x"), spec)["MINIO_KMS_SECRET_KEY"]  # type: ignore[arg-type]
    name, _, material = key.partition(":")
    assert name == "azchaos-kms" and len(base64.b64decode(material)) == 32  # MinIO wants 256 bits
    assert key == kms_environment(Secrets("x"), spec)["MINIO_KMS_SECRET_KEY"]  # type: ignore[arg-type]
    assert key != kms_environment(Secrets("y"), spec)["MINIO_KMS_SECRET_KEY"]  # type: ignore[arg-type]
    assert default_encryption(spec) == {"Rules": [{"ApplyServerSideEncryptionByDefault": {
        "SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "azchaos-kms"}}]}
    path.write_text(GOOD.replace("slo:", S3 + "    encryption: sse-s3\nslo:"))
    assert default_encryption(load(path).service("s3")) == {"Rules": [{"ApplyServerSideEncryptionByDefault": {
        "SSEAlgorithm": "AES256"}}]}
    # The LocalStack role creates its bucket with the same code, and has no such option.
    localstack = load(Path(__file__).resolve().parents[2] / "environments" / "localstack.yaml")
    s3 = next(service for service in localstack.services if service.role == "localstack")
    assert default_encryption(s3) is None


def test_an_s3_service_without_parity_gets_minios_default_for_its_drives(tmp_path: Path) -> None:
    from pytest_azchaos.stack.roles.s3 import quorum

    path = tmp_path / "env.yaml"
    path.write_text(GOOD.replace("slo:", S3 + "slo:"))  # 3 drives: MinIO's default is EC:1, not EC:2
    arithmetic = quorum(load(path).service("s3"))
    assert (arithmetic["parity"], arithmetic["read_quorum"], arithmetic["write_quorum"]) == (1, 2, 2)
    assert arithmetic["survives_az_loss"] == {"read": True, "write": True}
    path.write_text(GOOD.replace("slo:", S3.replace("drives_per_node: 1", "drives_per_node: 2") + "slo:"))
    assert quorum(load(path).service("s3"))["parity"] == 3  # 6 drives, as in the default region


@pytest.mark.parametrize(("per_node", "sets", "size", "parity"), [(6, 2, 9, 4), (7, 3, 7, 3), (8, 2, 12, 4)])
def test_more_than_16_drives_are_erasure_sets_that_each_survive_an_az_loss(
        tmp_path: Path, per_node: int, sets: int, size: int, parity: int) -> None:
    """MinIO cuts more than 16 drives into equal erasure sets of consecutive endpoints; each set must
    have drives in every AZ, and its parity is MinIO's default for the set (EC:4 for all 21 drives
    would be refused: "parity 4 should be less than or equal to 3")."""
    from pytest_azchaos.stack.roles.s3 import drive_order, quorum

    path = tmp_path / "env.yaml"
    path.write_text(GOOD.replace("slo:", S3.replace("drives_per_node: 1", f"drives_per_node: {per_node}") + "slo:"))
    spec = load(path).service("s3")
    arithmetic = quorum(spec)
    assert (arithmetic["erasure_sets"], arithmetic["set_drives"], arithmetic["parity"]) == (sets, size, parity)
    assert arithmetic["survives_az_loss"] == {"read": True, "write": True}
    order = drive_order(spec)
    for start in range(0, len(order), size):  # every AZ holds a third of each set, give or take one drive
        per_az = [sum(az == want for az, _, _ in order[start:start + size]) for want in "abc"]
        assert max(per_az) - min(per_az) <= 1, per_az


def test_the_good_environment_of_the_table_loads(tmp_path: Path) -> None:
    path = tmp_path / "env.yaml"
    path.write_text(GOOD)
    assert load(path).service("app").replicas_per_az == 2


@pytest.mark.parametrize("image", ["nginx", "nginx:1.27-bookworm", "registry.local:5000/team/app:v2",
                                   "ghcr.io/o/x@sha256:" + "a" * 64, "example-app", "postgres-patroni"])
def test_good_image_references_are_accepted(tmp_path: Path, image: str) -> None:
    path = tmp_path / "env.yaml"
    path.write_text(GOOD.replace("image: example-app", f'image: "{image}"'))
    assert load(path).service("app").image == image


@pytest.mark.parametrize(("rate", "words"), [
    (float("nan"), "found nan"), (math.inf, "found inf"), (-math.inf, "found -inf"), (0, "found 0"),
    (1e9, "<= 50000"), ("50", "found '50'"), (True, "found True"),
])
def test_bad_traffic_rate(rate: Any, words: str) -> None:
    with pytest.raises(ConfigError, match="rate_per_s must be a number > 0 and <= 50000") as caught:
        Traffic("http://127.0.0.1:9", rate_per_s=rate)
    assert words in str(caught.value)


def test_bad_ramp_rate() -> None:
    with pytest.raises(ConfigError, match="ramp_from_per_s must be a number > 0 .*found nan"):
        Traffic("http://127.0.0.1:9", rate_per_s=10, ramp_from_per_s=float("nan"), ramp="1s")


@pytest.mark.parametrize(("value", "words"), [
    ("99999999999999999999h", "at most 168h (7 days)"), ("169h", "at most 168h"), (10**30, "at most 168h"),
    (math.inf, "finite"), (float("nan"), "finite"), ("1e400", "expected a duration"), ("-5s", "expected a duration"),
])
def test_bad_durations(value: Any, words: str) -> None:
    with pytest.raises(ConfigError, match="--for") as caught:
        parse_duration(value, what="--for")
    assert words in str(caught.value)


class _NoEngine:
    """A backend that knows one run and fails the test if anything would be created or removed."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def runs(self) -> set[str]:
        return {"3f2a9c1d"}

    def __getattr__(self, name: str) -> Any:
        pytest.fail(f"the engine was asked to {name} for a bad input")


# (id, command line, exit status, words on stderr)
COMMANDS = [
    ("up bad run id", ["up", "--run-id", "BAD ID!"], 2, "run id 'BAD ID!': expected 1 to 32 lowercase letters"),
    ("up long run id", ["up", "--run-id", "a" * 33], 2, "expected 1 to 32"),
    ("up run id with slash", ["up", "--run-id", "../x"], 2, "run id '../x'"),
    ("down unknown run", ["down", "--run-id", "nope"], 2, "no stack with run id 'nope' is running (running: 3f2a9c1d"),
    ("down bad run id", ["down", "--run-id", "BAD ID!"], 2, "run id 'BAD ID!'"),
    ("status unknown run", ["status", "--run-id", "nope"], 2, "no stack with run id 'nope' is running"),
    ("fault unknown run", ["fault", "outage", "a", "--run-id", "nope"], 2, "no stack with run id 'nope' is running"),
    ("fault huge --for", ["fault", "outage", "a", "--for", "99999999999999999999h"], 2, "at most 168h"),
    ("fault negative --for", ["fault", "outage", "a", "--for", "-5s"], 2, "--for"),
    ("heal unknown run", ["heal", "--run-id", "nope"], 2, "no stack with run id 'nope' is running"),
    ("down orphans and all", ["down", "--orphans", "--all"], 2, "not allowed with argument"),
]


@pytest.mark.parametrize(("argv", "status", "words"), [row[1:] for row in COMMANDS], ids=[row[0] for row in COMMANDS])
def test_bad_command_line(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                          argv: list[str], status: int, words: str) -> None:
    monkeypatch.setattr(cli, "DockerBackend", _NoEngine)
    monkeypatch.setattr(cli.cli_faults, "DockerBackend", _NoEngine)
    with pytest.raises(SystemExit) as exited:
        raise SystemExit(cli.main(argv))
    err = capsys.readouterr().err
    assert exited.value.code == status, err
    assert words in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err  # one clear line


@pytest.mark.parametrize(("marker", "words"), [
    ('p99="12 parsecs"', "slo marker: SLO p99: expected a duration like '10s'"),
    ('p95="1s"', "slo marker: unknown SLO 'p95'"),
    ("failed_requests=-1", "slo marker: SLO failed_requests: the limit must be a number >= 0"),
])
def test_bad_slo_marker_is_a_usage_error_at_collection(pytester: pytest.Pytester, marker: str, words: str) -> None:
    pytester.makepyfile(f"""
        import pytest

        @pytest.mark.slo({marker})
        def test_it():  # no azchaos fixture: were the marker not checked, no stack would start either
            raise AssertionError("must not run")
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*test_bad_slo_marker_is_a_usage_error_at_collection.py:3: test_it: {words}*"])
    assert "azchaos: starting stack" not in result.stdout.str()


class _NoImages:
    """A Docker client without images and without a registry."""

    class images:  # noqa: N801 - the attribute docker-py has
        @staticmethod
        def get(ref: str) -> None:
            raise docker.errors.ImageNotFound(f"no such image: {ref}")

        @staticmethod
        def pull(ref: str) -> None:
            raise docker.errors.APIError("registry unreachable")


@pytest.mark.parametrize(("layout", "words"), [
    ({}, "there is no recipe folder {recipes}/varnish"),
    ({"varnish/Dockerfile": "FROM x"}, "the recipe folder {recipes}/varnish has no recipe.yaml"),
])
def test_missing_recipe_says_what_is_missing(tmp_path: Path, layout: dict[str, str], words: str) -> None:
    recipes = tmp_path / "images"
    (recipes / "nginx").mkdir(parents=True)
    (recipes / "nginx" / "recipe.yaml").write_text("official: nginx\n")
    for rel, text in layout.items():
        (recipes / rel).parent.mkdir(parents=True, exist_ok=True)
        (recipes / rel).write_text(text)
    progress: list[str] = []
    with pytest.raises(ConfigError) as caught:
        ImageSet(recipes, client=_NoImages(), progress=progress.append).ensure("varnish")  # not bundled either
    assert words.format(recipes=recipes) in str(caught.value)
    assert "or use a recipe: " in str(caught.value) and "nginx" in str(caught.value)
    assert not any("building" in line for line in progress), progress
