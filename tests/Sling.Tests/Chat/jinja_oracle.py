"""Renders templates with Python's Jinja2 set up the way transformers' apply_chat_template sets it up.

Reads a JSON array of {"template": str, "context": {...}} on stdin; writes a JSON array of
{"text": str} or {"error": str}. Used by JinjaOracleTests as the independent reference.
"""
import json
import sys
from datetime import datetime

import jinja2
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def strftime_now(fmt):
    return datetime(2026, 11, 24, 12, 0, 0).strftime(fmt)


env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
env.filters["tojson"] = tojson
env.globals["raise_exception"] = raise_exception
env.globals["strftime_now"] = strftime_now

results = []
for case in json.load(sys.stdin):
    try:
        results.append({"text": env.from_string(case["template"]).render(**case["context"])})
    except Exception as e:  # the message is what the test compares
        results.append({"error": str(e)})
json.dump(results, sys.stdout)
