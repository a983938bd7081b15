"""Test-support code: private RabbitMQ nodes, TLS material and a fault-injecting proxy."""
