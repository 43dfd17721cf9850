#!/usr/bin/env python3
"""Writes the bad inputs of issue 15's CLI cases into OUTDIR: a FIFO (kiln must refuse it, not
wait in open()), a config file whose logger writes to a file while its kernel is bad (the error
must still reach stderr, with the logger's level Off too), and a config file with raw control bytes (the message must escape them).

usage: hardening_fixtures.py OUTDIR BAD_KERNEL
"""
import json
import os
import sys

out, bad_kernel = sys.argv[1], sys.argv[2]
fifo = os.path.join(out, "hardening.fifo")
if os.path.lexists(fifo):
    os.unlink(fifo)
os.mkfifo(fifo, 0o600)
with open(os.path.join(out, "hardening-logger.json"), "w") as f:
    json.dump({"boot-source": {"kernel_image_path": bad_kernel},
               "logger": {"log_path": os.path.join(out, "hardening-logger.log"), "level": "Info"}}, f)
with open(os.path.join(out, "hardening-logger-off.json"), "w") as f:
    json.dump({"boot-source": {"kernel_image_path": bad_kernel}, "logger": {"level": "Off"}}, f)
with open(os.path.join(out, "hardening-ctl.json"), "wb") as f:
    f.write(b'{"boot-source": \x01\x1b[2J\r\n}')
