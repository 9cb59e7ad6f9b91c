"""What a WeChat Pay merchant is configured with (read from files named in settings by compose)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class WeChatPayConfig:
    mchid: str
    appid: str
    private_key_pem: str  # PKCS#8: the SDK refuses PKCS#1
    cert_serial_no: str
    apiv3_key: str
    public_key_pem: str  # WeChat Pay's platform public key (public-key mode)
    public_key_id: str
    notify_url: str
    gateway: str = "https://api.mch.weixin.qq.com"
    # Development only: the local simulator's page that plays the payer's phone after a scan.
    scan_page: str | None = None

    def __repr__(self) -> str:  # never print a key
        return f"WeChatPayConfig(mchid={self.mchid!r}, gateway={self.gateway!r})"
