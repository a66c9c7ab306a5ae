"""A deliberately simple pure-Python limit order book for differential tests: a dict of price ->
list of [order_id, qty, owner] in arrival order. Slow and obviously right."""


class ReferenceBook:
    def __init__(self):
        self.sides = ({}, {})  # 0 bids, 1 asks: price -> [[oid, qty, owner], ...]
        self.next_id = 1

    def best(self, side):
        levels = [p for p, q in self.sides[side].items() if q]
        if not levels:
            return -1
        return max(levels) if side == 0 else min(levels)

    def match(self, aggressor_buy, limit_price, qty):
        """Returns (filled, notional, [(oid, price, qty) of owner==1 fills])."""
        opp = self.sides[1 if aggressor_buy else 0]
        filled = notional = 0
        mm = []
        while filled < qty:
            prices = [p for p, q in opp.items() if q]
            if not prices:
                break
            price = min(prices) if aggressor_buy else max(prices)
            if (aggressor_buy and price > limit_price) or (not aggressor_buy and price < limit_price):
                break
            queue = opp[price]
            order = queue[0]
            take = min(order[1], qty - filled)
            order[1] -= take
            filled += take
            notional += take * price
            if order[2] == 1:
                mm.append((order[0], price, take))
            if order[1] == 0:
                queue.pop(0)
        return filled, notional, mm

    def limit(self, side, price, qty, owner):
        filled, notional, mm = self.match(side == 0, price, qty)
        oid = 0
        if qty - filled > 0:
            oid = self.next_id
            self.next_id += 1
            self.sides[side].setdefault(price, []).append([oid, qty - filled, owner])
        return oid, filled, notional, mm

    def cancel(self, oid):
        for side in self.sides:
            for queue in side.values():
                for i, order in enumerate(queue):
                    if order[0] == oid:
                        queue.pop(i)
                        return order[1]
        return 0

    def withdraw(self, side, price):
        """Remove every order at ``price`` on ``side`` not owned by the market maker (owner 1)."""
        queue = self.sides[side].get(price, [])
        out = sum(o[1] for o in queue if o[2] != 1)
        queue[:] = [o for o in queue if o[2] == 1]
        return out

    def level_qty(self, side, price):
        return sum(o[1] for o in self.sides[side].get(price, []))

    def queue_ahead(self, oid):
        for side in self.sides:
            for queue in side.values():
                ahead = 0
                for order in queue:
                    if order[0] == oid:
                        return ahead
                    ahead += order[1]
        return None
