"""`maskdsl run --tf-data-service grpc://HOST:PORT`: the map runs on a tf.data service cluster.

The workers cannot read local files, so the inputs travel inside the dataset graph as
constants (refused above MAX_SERVICE_BYTES; their static shapes are hidden so
TensorFlow cannot fold a bad index at graph-building time) and each worker cuts its
batches out of them: `Dataset.range(batches).map(cut and run the pipeline)`, then
`distribute(processing_mode="distributed_epoch")` under a fresh job name.
`distributed_epoch` processes each batch once but promises no order, so each batch
carries its index and the client puts them back in order (batching.in_order).

The address is checked before anything is sent, each check bounded by CONNECT_SECONDS:
its form (grpc://HOST:PORT, a port from 1 to 65535), that something listens there, and
that it answers as a gRPC server does (an HTTP/2 SETTINGS frame in reply to the HTTP/2
greeting). TensorFlow's client waits without end for a dispatcher that never answers,
so an address that is not a tf.data service is refused here, as the address's fault.
"""

from __future__ import annotations

import re
import socket
import uuid

from maskdsl import limits
from maskdsl.errors import DataError, InputError, escape_text
from maskdsl.pipeline.data_files import convert

MAX_SERVICE_BYTES = limits.MAX_SERVICE_BYTES   # inputs sent to a tf.data service travel inside the dataset graph
CONNECT_SECONDS = 5.0
_HTTP2_GREETING = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])  # + empty SETTINGS
_ADDRESS = re.compile(r"(grpc://)?(?P<host>\[[0-9a-fA-F:]+\]|[A-Za-z0-9_.-]+):(?P<port>\d{1,5})\Z")


def service_dataset(pipeline, data, scalars, plan, service, specs, map_fn):
    """Batches cut on the service's workers from constants in the dataset graph (remote workers
    cannot read local files), mapped there, each tagged with its index."""
    from maskdsl.tf.runtime import tf

    check_address(service)
    size = sum(a.nbytes for a in data.arrays.values())
    if size > MAX_SERVICE_BYTES:
        raise DataError(f"{size:,} bytes of input are too many to send to a tf.data service inside the dataset "
                        f"graph (limit {MAX_SERVICE_BYTES:,}); run locally or split the input")
    types = pipeline.input_types
    values = {n: convert(n, a, types[n], data.description) for n, a in data.arrays.items()}
    values.update(scalars)
    rows = plan.batch_rows
    sliced = [n for n in values if plan.streamed and n in pipeline.row_inputs]

    def element(index):
        out = {}
        for name, value in values.items():
            # the declared (unknown) dimensions, so nothing is folded at graph-building time
            t = tf.compat.v1.placeholder_with_default(tf.constant(value), specs[name].shape)
            out[name] = t[index * rows:(index + 1) * rows] if name in sliced else t
        return index, out

    def mapped(i):
        index, inputs = element(i)
        return index, map_fn(inputs)

    dataset = tf.data.Dataset.range(plan.batches).map(tf.autograph.experimental.do_not_convert(mapped))
    # distributed_epoch: each batch is processed once, by whichever worker asks first; no order
    # is promised, so in_order() puts the batches back by their index.
    address = service if service.startswith("grpc://") else f"grpc://{service}"
    return dataset.apply(tf.data.experimental.service.distribute(
        processing_mode="distributed_epoch", service=address, job_name=f"maskdsl-{uuid.uuid4().hex}"))


def check_address(service: str) -> None:
    """InputError unless `service` is grpc://HOST:PORT where a gRPC server answers (bounded waits)."""
    shown = escape_text(service)
    match = _ADDRESS.match(service)
    if not match:
        raise InputError(f"--tf-data-service expects grpc://HOST:PORT, got '{shown}'", option="--tf-data-service")
    host, port = match.group("host").strip("[]"), int(match.group("port"))
    if not 1 <= port <= 65535:
        raise InputError(f"--tf-data-service {shown}: the port must be from 1 to 65535, not {port}",
                         option="--tf-data-service")
    try:  # a wrong port fails in seconds rather than hanging
        with socket.create_connection((host, port), timeout=CONNECT_SECONDS) as connection:
            connection.settimeout(CONNECT_SECONDS)
            connection.sendall(_HTTP2_GREETING)
            reply = connection.recv(9)   # a frame header: length (3 bytes), type (1: SETTINGS is 4), ...
    except TimeoutError:
        reply = None
    except OSError as e:
        raise InputError(f"cannot reach the tf.data service at {shown}: {e.strerror or e}",
                         option="--tf-data-service") from None
    if not reply or len(reply) < 4 or reply[3] != 4:
        raise InputError(f"the address {shown} does not answer as a tf.data service does (no gRPC reply within "
                         f"{CONNECT_SECONDS:g} s); check the host and port of the dispatcher",
                         option="--tf-data-service")
