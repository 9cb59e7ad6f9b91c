"""Payment channels behind one interface: a local simulator now, WeChat Pay and Alipay later."""
