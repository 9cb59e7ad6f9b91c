"""Alipay (支付宝) through the ``python-alipay-sdk`` SDK: see :mod:`kameng.channels.alipay.adapter`."""
