"""A real SMTP server for the tests (aiosmtpd): every accepted message is
written as one .eml file into a folder, exactly as it came over the wire.

Usage: python smtp_sink.py PORT FOLDER [REJECT_ADDRESS ...]
           [--starttls CERT KEY | --implicit-tls CERT KEY] [--auth USER PASSWORD]

Recipients named after FOLDER are refused with a permanent 550, so tests
can make a delivery fail part-way. `--starttls` requires STARTTLS before
anything else, `--implicit-tls` speaks TLS from the first byte (port 465
style), `--auth` requires AUTH (PLAIN or LOGIN) with that user and password.
"""
import argparse
import os
import ssl
import time
import uuid

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Sink:
    def __init__(self, folder, reject):
        self.folder = folder
        self.reject = set(reject)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.reject:
            return "550 5.1.1 mailbox unavailable (refused by the test)"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        name = os.path.join(self.folder, f"{time.time_ns()}-{uuid.uuid4().hex}.eml")
        with open(name + ".tmp", "wb") as f:
            f.write(envelope.original_content)
        os.rename(name + ".tmp", name)
        return "250 Message accepted for delivery"


class ImplicitTlsController(Controller):
    """aiosmtpd's readiness probe cannot speak TLS with the server's own
    context: probe with a plain TCP connection instead."""

    def _trigger_server(self):
        import socket

        with socket.create_connection((self.hostname, self.port), 1.0):
            pass


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("folder")
    parser.add_argument("reject", nargs="*")
    parser.add_argument("--starttls", nargs=2, metavar=("CERT", "KEY"))
    parser.add_argument("--implicit-tls", nargs=2, metavar=("CERT", "KEY"))
    parser.add_argument("--auth", nargs=2, metavar=("USER", "PASSWORD"))
    args = parser.parse_args()
    os.makedirs(args.folder, exist_ok=True)

    options = {}
    if args.auth:
        user, password = (part.encode() for part in args.auth)

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (
                isinstance(auth_data, LoginPassword)
                and auth_data.login == user
                and auth_data.password == password
            )
            return AuthResult(success=ok, handled=False)

        options.update(authenticator=authenticator, auth_required=True)
    controller_class = Controller
    for pair, key in ((args.starttls, "tls_context"), (args.implicit_tls, "ssl_context")):
        if pair:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*pair)
            options[key] = context
    if args.starttls:
        options.update(require_starttls=True, auth_require_tls=True)
    elif args.implicit_tls:
        # The whole connection is TLS: AUTH needs no STARTTLS first.
        controller_class = ImplicitTlsController
        options.update(auth_require_tls=False)
    else:
        options.update(auth_require_tls=False)
    controller = controller_class(
        Sink(args.folder, args.reject), hostname="127.0.0.1", port=args.port, **options
    )
    controller.start()
    print("ready", flush=True)
    try:
        while True:
            time.sleep(3600)
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
