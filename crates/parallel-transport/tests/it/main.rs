//! Integration tests of `HyperTransport` over real loopback sockets.
