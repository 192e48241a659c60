"""Scripts that drive a running model-api with real OIP v2 client libraries.

Each runs in its own interpreter (tests/service/test_oip_clients.py starts them with time and
memory limits): tritonclient's gRPC module and KServe both register protobuf messages named
``inference.*`` in the default descriptor pool, so they cannot share one process. Input is a
JSON file named by the first argument, output one JSON document on stdout.
"""
