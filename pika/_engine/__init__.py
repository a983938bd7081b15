"""The sans-I/O AMQP 0-9-1 protocol engine shared by every adapter.

It consumes bytes and a clock reading and produces events and bytes; it opens
no socket, starts no thread and reads no clock.  See ``connection.py``.
"""
