"""S3: MinIO in distributed mode, one node per AZ with several drives each, erasure-coded.

MinIO cuts the list of drives it is given into erasure sets of equal size, at most 16 drives
each, and codes every object within one set. With S drives in a set and parity P, a set reads
with S - P drives and writes with S - P (S - P + 1 when P = S / 2). Losing any one AZ must leave
every set both.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
from typing import Any

import requests

from ..model import Look, Member, ServiceSpec, StackView
from .base import HTTP_200, Role, http_ok

#: the erasure set sizes MinIO forms (cmd/endpoint-ellipses.go, setSizes)
SET_SIZES = range(2, 17)

#: the bucket's default encryption, by the name an environment file gives it: S3's header value
ENCRYPTION = {"sse-s3": "AES256", "sse-kms": "aws:kms"}
#: the one key of the region's KMS (MinIO's built-in KMS holds a single key, named here)
KMS_KEY_NAME = "azchaos-kms"


def default_parity(drives: int) -> int:
    """MinIO's own default parity for an erasure set of ``drives`` (storageclass.DefaultParityBlocks)."""
    return 0 if drives == 1 else 1 if drives <= 3 else 2 if drives <= 5 else 3 if drives <= 7 else 4


def set_size(drives: int) -> int:
    """Return the drives per erasure set that MinIO makes of a plain list of ``drives`` endpoints: the
    largest size from 2 to 16 that divides the count (commonSetDriveCount), so 6 drives are one set
    and 18 are two sets of 9. The count is drives_per_node x replicas x AZs, each at most 16 (the
    topology's limits), so one of them always divides it when there is more than one drive."""
    return max((size for size in SET_SIZES if drives % size == 0), default=drives)


def drive_order(spec: ServiceSpec) -> list[tuple[str, int, int]]:
    """Return the drives as (AZ, replica, drive), in the order MinIO is given them: one drive of each
    AZ in turn. MinIO makes its erasure sets of consecutive drives of that list, so each set gets
    its drives from every AZ alike; node by node, a set of 7 of 21 drives would lie in one AZ."""
    return [(az, replica, drive) for drive in range(1, int(spec.options["drives_per_node"]) + 1)
            for replica in range(1, spec.replicas_per_az + 1) for az in spec.azs]


def quorum(spec: ServiceSpec) -> dict[str, Any]:
    """Return the erasure-coding arithmetic of an s3 service: drives, erasure sets, parity and quorums
    (per set), and whether every set keeps its read and write quorum when any one AZ is lost."""
    order = drive_order(spec)
    size = set_size(len(order))
    sets = [order[start:start + size] for start in range(0, len(order), size)] if size else []
    parity = int(spec.options["parity"] or default_parity(size))
    read = size - parity
    write = read + 1 if parity * 2 == size else read

    def survives(need: int) -> bool:
        return bool(sets) and all(sum(az != lost for az, _, _ in drives) >= need
                                  for lost in spec.azs for drives in sets)

    return {"drives": len(order), "erasure_sets": len(sets), "set_drives": size, "parity": parity,
            "read_quorum": read, "write_quorum": write,
            "survives_az_loss": {"read": survives(read), "write": survives(write)}}


class S3Role(Role):
    name = "s3"
    default_port = 9000
    order = 2
    options = {"drives_per_node": 2, "parity": None, "bucket": "azchaos", "encryption": None}
    limits = {"drives_per_node": 16, "parity": 16}
    # MinIO stopped with SIGTERM cancels the requests under way: uploads got 499 "Client
    # disconnected" or hung, and a key whose upload held its lock then hung on every node for up to
    # two minutes. S3 never shows a client one of its nodes going down.
    drained_before_stop = True

    def check(self, spec: ServiceSpec) -> str | None:
        """MinIO refuses to start (and the stack would wait for it in vain) with a parity above half
        the drives of an erasure set: each object needs at least as many data shards as parity shards.
        The bucket's default encryption is one S3 offers."""
        encryption = spec.options["encryption"]
        if encryption is not None and encryption not in ENCRYPTION:
            return (f"encryption: unknown encryption {encryption!r}; use one of "
                    f"{', '.join(ENCRYPTION)} (a bucket's default encryption), or leave it out")
        arithmetic = quorum(spec)
        drives, size = int(arithmetic["drives"]), int(arithmetic["set_drives"])
        parity = spec.options["parity"]
        if parity and int(parity) > size // 2:
            has = (f"{drives} (drives_per_node x replicas x AZs)" if int(arithmetic["erasure_sets"]) == 1 else
                   f"erasure sets of {size} ({drives} drives: MinIO cuts more than 16 into equal sets)")
            return (f"parity: EC:{parity} needs at least {2 * int(parity)} drives, and this service has {has}; "
                    f"MinIO allows parity up to {size // 2} here, or leave parity out for MinIO's "
                    f"default (EC:{default_parity(size)})")
        return None

    def command(self, stack: StackView, member: Member) -> list[str]:
        spec = stack.topology.service(member.service)
        alias = {(m.az, m.replica): m.alias for m in stack.members(service=member.service) if not m.replacement}
        endpoints = [f"http://{alias[az, replica]}:{member.port}/data{drive}"
                     for az, replica, drive in drive_order(spec)]
        return ["minio", "server", "--address", f":{member.port}", *endpoints]

    def environment(self, stack: StackView, member: Member) -> dict[str, str]:
        spec = stack.topology.service(member.service)
        return {
            "MINIO_ROOT_USER": stack.secret("s3_access_key"),
            "MINIO_ROOT_PASSWORD": stack.secret("s3_secret_key"),
            "MINIO_STORAGE_CLASS_STANDARD": f"EC:{quorum(spec)['parity']}",
            # The drives are folders of the container's root disk, which MinIO refuses
            # in distributed mode unless told this is a test deployment.
            "MINIO_CI_CD": "on",
            "MINIO_PROMETHEUS_AUTH_TYPE": "public",
            "MINIO_BROWSER": "off",
            # A node that vanishes (an AZ loses power) leaves internode TCP connections that
            # never get an answer; the default TCP user timeout (10 min) would keep requests
            # waiting on them. Give up on unacknowledged data after 3 s instead.
            "MINIO_CONN_USER_TIMEOUT": "3s",
            # A node that hangs (a frozen AZ: TCP still answers, nothing else does) would hold every
            # write that has shards on its drives for the default drive timeout of 30 s. Give up on
            # a drive after 3 s: the write completes on the others, like S3 riding through a gray AZ.
            "MINIO_DRIVE_MAX_TIMEOUT": "3s",
            # MinIO sets its sockets' receive buffer itself (4 MiB), over the small buffers below: a
            # frozen node swallowed a whole 10 MiB part sent to it by the S3 endpoint, which then
            # waited 15 s for an answer instead of failing the send after 5 s.
            "MINIO_RECV_BUF_SIZE": str(256 * 1024),
            # A node that comes back (a healed power outage) may get a new address. MinIO caches
            # names for 30 s in a container (10 min elsewhere) and keeps dialling the old address
            # until then: its peers counted the node's drives offline for 15-20 s after every heal.
            # Re-resolve every second instead; EC2 keeps an instance's address, and so would S3.
            "MINIO_DNS_CACHE_TTL": "1s",
            **kms_environment(stack, spec),
        }

    def sysctls(self, stack: StackView, member: Member) -> dict[str, str]:
        """Small TCP receive buffers, so that a frozen node cannot swallow a whole shard.

        A node that hangs still lets its kernel accept data. With the default buffers (up to
        6 MiB) a peer writes a part's shard (~3.5 MiB for 10 MiB parts) into the frozen node's
        socket entirely and then waits for an answer that never comes, with no deadline: every
        multipart upload stalls for as long as the node is frozen. With 256 KiB the writer hits
        a zero window, and MINIO_CONN_USER_TIMEOUT (TCP_USER_TIMEOUT) drops the connection after
        3 s; the write completes on the other drives. Loopback-speed links lose nothing by it.
        """
        return {"net.ipv4.tcp_rmem": "4096 131072 262144"}

    def not_ready(self, stack: StackView, members: list[Member]) -> list[str]:
        pending = [m.alias for m in members if not http_ok(stack.url(m, m.port, "/minio/health/live"))]
        if pending:
            return pending
        online, total = self.drives(stack, members)
        if total and online < total:
            return [f"s3: {online}/{total} drives online"]
        cluster = stack.url(members[0], members[0].port, "/minio/health/cluster")
        if not http_ok(cluster):
            return ["s3: no write quorum yet"]
        if ensure_bucket(stack, members[0]):
            return []
        encrypted = stack.topology.service(members[0].service).options["encryption"]
        return [f"s3: bucket not created{' or its default encryption not set' if encrypted else ''} yet"]

    def drives(self, stack: StackView, members: list[Member]) -> tuple[int, int]:
        """Return (online, total) drives: the fewest that any running node of ``members`` sees online,
        from MinIO's admin API (what `mc admin info` shows).

        Each node has its own view: a node that came back sees every drive at once, while its peers
        count its drives offline until they have reconnected to it (and a request sent to a peer is
        served without them). The region is whole only when every node sees every drive. Admin info
        reports each node's drives as that node sees them, so a node that has not connected a
        peer's drives yet shows only in the header our MinIO build adds to its cluster check
        (``set_drives_online``); the official image has no such header. Its Prometheus metrics
        would need no signature, but they are cached for several seconds and lag the drives' real
        state.
        """
        total = int(quorum(stack.topology.service(members[0].service))["drives"]) if members else 0
        views = []
        for member in members:
            if not stack.is_running(member):
                continue
            info = admin_info(stack, member)
            if info is not None:
                states = [d.get("state") for srv in info.get("servers", []) for d in srv.get("drives", [])]
                reported = sum(state == "ok" for state in states)
                in_use = set_drives_online(stack, member)
                views.append(reported if in_use is None else min(reported, in_use))
        return min(views, default=0), total

    def looks(self, stack: StackView, members: list[Member]) -> list[Look]:
        """MinIO's drives going offline or back online."""
        return [lambda: _drive_facts(self, stack, members)]

    def not_steady(self, stack: StackView, members: list[Member]) -> list[str]:
        online, total = self.drives(stack, members)
        return [] if online == total else [f"{members[0].service}: {online}/{total} drives online"]

    def probe(self, stack: StackView, member: Member) -> str:
        return HTTP_200 % (member.port, "/minio/health/cluster")

    def status(self, stack: StackView, members: list[Member]) -> dict[str, Any]:
        online, total = self.drives(stack, members)
        spec = stack.topology.service(members[0].service)
        encryption = {"encryption": spec.options["encryption"]} | (
            {"kms_key": KMS_KEY_NAME} if spec.options["encryption"] else {})
        return {"drives_online": online, "drives_total": total, **quorum(spec), **encryption}


def _drive_facts(role: S3Role, stack: StackView, members: list[Member]) -> dict[str, str]:
    online, total = role.drives(stack, members)
    if not online:  # no node answered MinIO's admin API in time: nothing seen, nothing to record
        return {}
    return {f"drives {members[0].service}": f"{online}/{total} online"}


def kms_environment(stack: StackView, spec: ServiceSpec) -> dict[str, str]:
    """MinIO's built-in KMS, for a service whose bucket is encrypted by default; none otherwise.

    Its one key is derived from the run's S3 secret, so that every node holds the same key and a
    stack attached again later derives it again. Like AWS KMS, a regional service, it cannot be
    lost with an AZ: each node keeps the key in memory. A KMS outage cannot be rehearsed with it.
    """
    if spec.options["encryption"] is None:
        return {}
    key = hashlib.sha256(f"azchaos-kms:{stack.secret('s3_secret_key')}".encode()).digest()
    return {"MINIO_KMS_SECRET_KEY": f"{KMS_KEY_NAME}:{base64.b64encode(key).decode()}"}


def default_encryption(spec: ServiceSpec) -> dict[str, Any] | None:
    """The bucket encryption configuration (PutBucketEncryption) the service's option asks for."""
    algorithm = ENCRYPTION.get(str(spec.options.get("encryption")))  # None for S3 of other roles (LocalStack)
    if algorithm is None:
        return None
    rule: dict[str, Any] = {"SSEAlgorithm": algorithm}
    if algorithm == "aws:kms":
        rule["KMSMasterKeyID"] = KMS_KEY_NAME
    return {"Rules": [{"ApplyServerSideEncryptionByDefault": rule}]}


def ensure_bucket(stack: StackView, member: Member) -> bool:
    """Create the service's bucket if it is missing, as infrastructure code would before the app
    starts (apps racing to create it would fail their first requests), with the default encryption
    the service asks for; return True once both are in place."""
    import boto3
    from botocore.config import Config

    client = boto3.client(
        "s3", endpoint_url=stack.url(member, member.port), aws_access_key_id=stack.secret("s3_access_key"),
        aws_secret_access_key=stack.secret("s3_secret_key"), region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}, connect_timeout=1, read_timeout=2),
    )
    spec = stack.topology.service(member.service)
    bucket = str(spec.options["bucket"])
    wanted = default_encryption(spec)
    return _bucket_exists(client, bucket) and (wanted is None or _encrypted_by_default(client, bucket, wanted))


def _bucket_exists(client: Any, bucket: str) -> bool:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        client.head_bucket(Bucket=bucket)
        return True
    except ClientError:
        pass
    except BotoCoreError:
        return False
    try:
        client.create_bucket(Bucket=bucket)
        return True
    except (BotoCoreError, ClientError) as exc:
        return "BucketAlreadyOwnedByYou" in str(exc)


def _encrypted_by_default(client: Any, bucket: str, wanted: dict[str, Any]) -> bool:
    """True once MinIO returns the bucket's default encryption as ``wanted``; put it if it does not.
    MinIO answers from the bucket metadata it keeps in memory: cheap, and it works while an AZ is
    down (this runs again whenever the region's readiness is checked)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        rules = client.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
        if [r.get("ApplyServerSideEncryptionByDefault") for r in rules] == [
                r["ApplyServerSideEncryptionByDefault"] for r in wanted["Rules"]]:
            return True
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ServerSideEncryptionConfigurationNotFoundError":
            return False
    except BotoCoreError:
        return False
    with contextlib.suppress(BotoCoreError, ClientError):
        client.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration=wanted)
    return False  # asked again on the next call, as MinIO stored it


#: set by environments/images/minio/set-drives-header.patch: "online/total", the node's own view
SET_DRIVES_HEADER = "X-Azchaos-Set-Drives-Online"


def set_drives_online(stack: StackView, member: Member) -> int | None:
    """How many drives of its erasure sets ``member`` writes to and reads from now, by its own
    account, or None where that is not known (MinIO without the header, or no answer)."""
    try:
        response = requests.get(stack.url(member, member.port, "/minio/health/cluster"), timeout=2)
    except requests.RequestException:
        return None
    online, _, _ = response.headers.get(SET_DRIVES_HEADER, "").partition("/")
    return int(online) if online.isdigit() else None


def admin_info(stack: StackView, member: Member) -> dict[str, Any] | None:
    """GET /minio/admin/v3/info of one node, signed like `mc admin info` (SigV4, service s3)."""
    found = _admin_get(stack, member, "/minio/admin/v3/info")
    return dict(found) if isinstance(found, dict) else None


def held_locks(stack: StackView, member: Member) -> list[dict[str, Any]] | None:
    """The object locks MinIO's lockers hold now, oldest first, as `mc admin top locks --stale` lists
    them (resource, type, owner, serverlist: the lockers that hold it, source, elapsed in ns); None if
    the node did not answer. Locks held by fewer lockers than their quorum are listed too (without
    ``stale``, MinIO hides them: they are what a lost grant leaves). MinIO's own locks
    (``.minio.sys/``) are left out."""
    found = _admin_get(stack, member, "/minio/admin/v3/top/locks?count=10000&stale=true")
    if not isinstance(found, list):
        return None
    return [lock for lock in found if not str(lock.get("resource", "")).startswith(".minio.sys/")]


def _admin_get(stack: StackView, member: Member, path: str) -> Any:
    """GET a path of MinIO's admin API on one node, signed like `mc admin` (SigV4, service s3)."""
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    url = stack.url(member, member.port, path)
    request = AWSRequest(method="GET", url=url)
    credentials = Credentials(stack.secret("s3_access_key"), stack.secret("s3_secret_key"))
    S3SigV4Auth(credentials, "s3", "us-east-1").add_auth(request)
    try:
        response = requests.get(url, headers=dict(request.headers), timeout=2)
        return response.json() if response.ok else None
    except (requests.RequestException, ValueError):
        return None
