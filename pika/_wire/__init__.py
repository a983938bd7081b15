"""Private fast codec used by the protocol engine (frame reader, frame writer).

Nothing is imported here on purpose: ``pika.spec`` and ``pika.data`` import
``pika._wire.errors`` and ``pika._wire.primitives``, while ``reader`` and
``writer`` import ``pika.spec``; an eager import would be circular.
"""
