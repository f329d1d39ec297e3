"""Between a Provider row and the wire: the request rendered (rendering, from
spec), sent (transport), its answer read per message (outcomes), secrets masked
(redaction); pipeline ties them into the one outbound path every send uses."""
