"""A small Kite instrument dump (the real columns and row shapes) for tests: an index with its
weekly chain and monthly future, a stock on two exchanges with a stock option, an MCX future."""

from __future__ import annotations

HEADER = "instrument_token,exchange_token,tradingsymbol,name,last_price,expiry,strike,tick_size,lot_size,instrument_type,segment,exchange"
ROWS = [
    "256265,1001,NIFTY 50,NIFTY 50,0,,0,0,0,EQ,INDICES,NSE",
    "738561,2885,RELIANCE,RELIANCE INDUSTRIES,0,,0,0.1,1,EQ,NSE,NSE",
    "128083204,500325,RELIANCE,RELIANCE INDUSTRIES,0,,0,0.05,1,EQ,BSE,BSE",
    "13368066,52219,NIFTY26DECFUT,NIFTY,0,2026-12-29,0,0.1,65,FUT,NFO-FUT,NFO",
    "10300418,40236,NIFTY26D0824500CE,NIFTY,0,2026-12-08,24500,0.05,65,CE,NFO-OPT,NFO",
    "10300674,40237,NIFTY26D0824500PE,NIFTY,0,2026-12-08,24500,0.05,65,PE,NFO-OPT,NFO",
    "10300930,40238,NIFTY26D0824550CE,NIFTY,0,2026-12-08,24550,0.05,65,CE,NFO-OPT,NFO",
    "10301186,40239,NIFTY26D0824600CE,NIFTY,0,2026-12-08,24600,0.05,65,CE,NFO-OPT,NFO",
    "10301442,40240,NIFTY26D0824600PE,NIFTY,0,2026-12-08,24600,0.05,65,PE,NFO-OPT,NFO",
    "11111170,43403,RELIANCE26DEC1400CE,RELIANCE,0,2026-12-29,1400,0.05,500,CE,NFO-OPT,NFO",
    "56789255,221833,CRUDEOIL26DECFUT,CRUDEOIL,0,2026-12-18,0,1,100,FUT,MCX-FUT,MCX",
]


def kite_dump(extra_stocks: int = 0) -> bytes:
    """The rows above plus ``extra_stocks`` NSE equities (to pass a refresh's minimum rows)."""
    extra = [f"{(70_000 + i) << 8 | 1},{70_000 + i},STOCK{i},STOCK {i} LTD,0,,0,0.05,1,EQ,NSE,NSE"
             for i in range(extra_stocks)]
    return ("\n".join([HEADER, *ROWS, *extra]) + "\n").encode()
