"""Ready-made workloads: the example app's mix of item and object reads and writes.

Example::

    from pytest_azchaos.workloads import example_app

    with azchaos.traffic(rate_per_s=50, workload=example_app()):
        ...
"""

from __future__ import annotations

import uuid

from .traffic import Request

MULTIPART_SIZE = 9 * 1024 * 1024  # above the example app's 8 MiB part size: a multipart upload


def example_app(
    *, reads: float = 5, writes: float = 2, object_puts: float = 1, object_gets: float = 1,
    large_object_puts: float = 0, object_size: int = 64 * 1024, prefix: str | None = None,
) -> tuple[Request, ...]:
    """Return the example app's workload: weights per kind (0 leaves a kind out).

    - ``read``: GET /items/KEY of the latest acknowledged ``write`` (stale reads show here)
    - ``write``: PUT /items/KEY, a row in PostgreSQL
    - ``put_object`` / ``get_object``: PUT and GET /objects/KEY, ``object_size`` bytes in S3
    - ``put_large_object``: a 9 MiB object, uploaded in parts (multipart)

    Keys start with ``prefix`` (default: random), so that runs on one stack never collide.
    """
    tag = prefix or uuid.uuid4().hex[:8]
    kinds = (
        (reads, Request("read", "GET", "/items/{key}", reads="write")),
        (writes, Request("write", "PUT", f"/items/{tag}-{{n}}", body=f"value-{tag}-{{n}}", key=f"{tag}-{{n}}")),
        (object_puts, Request("put_object", "PUT", f"/objects/{tag}-{{n}}", key=f"{tag}-{{n}}", size=object_size)),
        (object_gets, Request("get_object", "GET", "/objects/{key}", reads="put_object")),
        (large_object_puts, Request("put_large_object", "PUT", f"/objects/{tag}-L{{n}}", key=f"{tag}-L{{n}}",
                                    size=MULTIPART_SIZE)),
    )
    return tuple(Request(**{**request.__dict__, "weight": weight}) for weight, request in kinds if weight > 0)
