#!/usr/bin/env python3
"""Placeholder replaced by the db module's embedder."""
import sys
open(sys.argv[1], "w").write("/* no migrations yet */\n")
