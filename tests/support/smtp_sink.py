"""A real SMTP server for the tests (aiosmtpd): every accepted message is
written as one .eml file into a folder, exactly as it came over the wire.

Usage: python smtp_sink.py PORT FOLDER [REJECT_ADDRESS ...]
Recipients named after FOLDER are refused with a permanent 550, so tests
can make a delivery fail part-way.
"""
import os
import sys
import time
import uuid

from aiosmtpd.controller import Controller


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


def main():
    port, folder, reject = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
    os.makedirs(folder, exist_ok=True)
    controller = Controller(Sink(folder, reject), hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    try:
        while True:
            time.sleep(3600)
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
