"""Local servers that speak WeChat Pay's and Alipay's real protocols, for development and tests.

Each one generates its keys when it starts, accepts the SDKs' requests unmodified (checking the
merchant's signature as the channel does), signs its answers and notifications as the channel
does, and can be told to misbehave. Only the composition root and the tests import them.
"""
