"""Audit 12 (a new integrator's referral plugin): ``sys.exit()`` in a plugin is its failure.

A hook that ends with ``sys.exit()`` (or click's ``ctx.exit()``, reused from a command of
the plugin) raises ``SystemExit``, which is no ``Exception``: ``xrm records create`` then
ended with status 1 and not a word, the REST API dropped the connection without an answer,
and nothing named the plugin. The platform now treats it as any other exception of plugin
code: the change is rolled back and a ``PluginError`` names the plugin (``KeyboardInterrupt``
still stops the program).
"""
from __future__ import annotations

import sys

import pytest

from xrm_core import KPI, PluginError, call_all, hookimpl, hookspec


class Exiting:
    """A plugin whose KPI and hook of its own call ``sys.exit()``."""

    __name__ = "exiting"

    class Spec:
        @staticmethod
        @hookspec
        def xrm_aud12_ping(session):
            """A hook of the plugin's own."""

    @staticmethod
    @hookimpl
    def xrm_addhooks(pm):
        pm.add_hookspecs(Exiting.Spec)

    @staticmethod
    @hookimpl
    def xrm_entity_types():
        return [{"name": "ward", "schema": {"type": "object", "properties": {"beds": {"type": "integer"}}}}]

    @staticmethod
    @hookimpl
    def xrm_kpis():
        class Beds(KPI):
            name, entity, unit = "aud12_beds", "ward", "beds"

            def compute(self, ctx):
                sys.exit("no beds today")
        return [Beds()]

    @staticmethod
    @hookimpl
    def xrm_aud12_ping(session):
        sys.exit(3)


class ExitingTypes:
    __name__ = "exitingtypes"

    @staticmethod
    @hookimpl
    def xrm_entity_types():
        sys.exit(2)


def test_a_kpi_that_exits_is_its_plugins_failure(make_platform):
    p = make_platform(Exiting())
    with pytest.raises(PluginError, match=r"plugin 'exiting' failed in KPI 'aud12_beds' compute\(\): "
                                          "SystemExit: no beds today"), p.session() as s:
        s.kpi("aud12_beds")


def test_a_listener_that_exits_is_named(make_platform):
    p = make_platform(Exiting())
    with pytest.raises(PluginError, match="plugin 'exiting' failed in xrm_aud12_ping: SystemExit: 3"), \
            p.session() as s:
        call_all(p.pm, "xrm_aud12_ping", session=s)


def test_a_definition_hook_that_exits_fails_init_naming_it(make_platform):
    with pytest.raises(PluginError, match="plugin 'exitingtypes' failed in xrm_entity_types: SystemExit: 2"):
        make_platform(ExitingTypes())
