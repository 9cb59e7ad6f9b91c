"""The wallet (我的钱包): cash and bonus apart, every movement, holds and withdrawals."""
