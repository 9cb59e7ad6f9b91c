"""WeChat Pay (微信支付) through the ``wechatpayv3`` SDK: see :mod:`kameng.channels.wechatpay.adapter`."""
