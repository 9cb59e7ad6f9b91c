"""The WeChat Pay simulator's envelope: the merchant's ``Authorization`` checked, answers and
notifications signed with the platform key, a notification's ``resource`` encrypted under the
APIv3 key, a card number the SDK encrypted for WeChat decrypted."""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kameng.channels.protocol_sims.server import Received, Reply
from kameng.channels.protocol_sims.wechat_books import wechat_time

SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"
NOTIFIED_REFUND_STATES = {"SUCCESS": "退款成功", "ABNORMAL": "退款异常", "CLOSED": "退款关闭"}


class WeChatEnvelope:
    """Mixed into :class:`~kameng.channels.protocol_sims.wechat.WeChatPaySimulator`."""

    mchid: str
    apiv3_key: str
    public_key_id: str
    clock: Callable[[], datetime]
    _merchant_key: Any
    _platform_key: Any

    def notification(
        self, event_type: str, original_type: str, resource: dict[str, object], at: datetime | None = None
    ) -> tuple[dict[str, str], bytes]:
        """A signed notification as WeChat Pay posts it: the resource encrypted under the APIv3 key."""
        moment = at or self.clock()
        nonce = secrets.token_hex(6)  # 12 characters, as WeChat's
        plain = json.dumps(resource, ensure_ascii=False).encode()
        cipher = AESGCM(self.apiv3_key.encode()).encrypt(nonce.encode(), plain, original_type.encode())
        envelope = {
            "id": secrets.token_hex(16),
            "create_time": wechat_time(moment),
            "resource_type": "encrypt-resource",
            "event_type": event_type,
            "summary": "支付成功"
            if original_type == "transaction"
            else NOTIFIED_REFUND_STATES.get(event_type.removeprefix("REFUND."), "退款状态变更"),
            "resource": {
                "original_type": original_type,
                "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": base64.b64encode(cipher).decode(),
                "associated_data": original_type,
                "nonce": nonce,
            },
        }
        body = json.dumps(envelope, ensure_ascii=False).encode()
        return self._signed_headers(body.decode(), moment), body

    def _decrypt(self, text: str) -> str:
        assert isinstance(self._platform_key, rsa.RSAPrivateKey)
        oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None)
        return self._platform_key.decrypt(base64.b64decode(text), oaep).decode()

    def _authorized(self, request: Received) -> bool:
        header = request.headers.get("authorization", "")
        scheme, _, rest = header.partition(" ")
        if scheme != SIGNATURE_TYPE:
            return False
        fields = dict(part.split("=", 1) for part in rest.split(",") if "=" in part)
        values = {k.strip(): v.strip().strip('"') for k, v in fields.items()}
        if values.get("mchid") != self.mchid:
            return False
        message = f"{request.method}\n{request.path}\n{values.get('timestamp')}\n{values.get('nonce_str')}\n"
        message += request.body.decode() + "\n"
        assert isinstance(self._merchant_key, rsa.RSAPublicKey)
        try:
            self._merchant_key.verify(
                base64.b64decode(values.get("signature", "")), message.encode(), padding.PKCS1v15(), hashes.SHA256()
            )
        except (InvalidSignature, ValueError):
            return False
        return True

    def _signed_headers(self, body: str, moment: datetime | None = None) -> dict[str, str]:
        timestamp = str(int((moment or self.clock()).timestamp()))
        nonce = secrets.token_hex(16)
        assert isinstance(self._platform_key, rsa.RSAPrivateKey)
        signature = self._platform_key.sign(
            f"{timestamp}\n{nonce}\n{body}\n".encode(), padding.PKCS1v15(), hashes.SHA256()
        )
        return {
            "Wechatpay-Timestamp": timestamp,
            "Wechatpay-Nonce": nonce,
            "Wechatpay-Signature": base64.b64encode(signature).decode(),
            "Wechatpay-Serial": self.public_key_id,
            "Wechatpay-Signature-Type": SIGNATURE_TYPE,
        }

    def _signed(self, status: int, body: str) -> Reply:
        headers = self._signed_headers(body)
        if body:
            headers["Content-Type"] = "application/json; charset=utf-8"
        return Reply(status, body.encode(), headers)

    def _json(self, status: int, data: dict[str, object]) -> Reply:
        return self._signed(status, json.dumps(data, ensure_ascii=False))

    def _error(self, status: int, code: str, message: str) -> Reply:
        return self._json(status, {"code": code, "message": message})
