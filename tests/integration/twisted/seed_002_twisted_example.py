# The Twisted example of the user's document seeds/002, as written (the document's
# rendering lost the indentation; it is restored here, nothing else is changed).
# test_twisted_seed_example.py runs it with the test broker as the default broker.
# ruff: noqa
# mypy: ignore-errors
# fmt: off
import pika
from pika.adapters.twisted_connection import TwistedProtocolConnection
from twisted.internet import reactor, defer

class TwistedExample:
    def __init__(self):
        self.connection = None
        self.channel = None

    def connect(self):
        parameters = pika.ConnectionParameters('localhost')
        self.connection = TwistedProtocolConnection(
            parameters,
            on_open_callback=self.on_connection_open,
            on_open_error_callback=self.on_connection_error,
            on_close_callback=self.on_connection_closed
        )

    def on_connection_open(self, connection):
        print('Connection opened')
        connection.channel(on_open_callback=self.on_channel_open)

    def on_connection_error(self, connection, error):
        print(f'Connection failed: {error}')
        reactor.stop()

    def on_connection_closed(self, connection, reason):
        print(f'Connection closed: {reason}')
        reactor.stop()

    def on_channel_open(self, channel):
        print('Channel opened')
        self.channel = channel

        # Declare queue
        channel.queue_declare(
            queue='twisted_test',
            callback=self.on_queue_declared
        )

    def on_queue_declared(self, method_frame):
        # Publish message
        self.channel.basic_publish(
            exchange='',
            routing_key='twisted_test',
            body='Hello Twisted!'
        )

        # Close connection after publishing
        reactor.callLater(1, self.connection.close)

# Usage
example = TwistedExample()
example.connect()
reactor.run()
