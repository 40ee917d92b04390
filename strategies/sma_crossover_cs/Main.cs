// SMA crossover, the project's C# example strategy (our own code, written for this repo).
//
// Holds the chosen equity while its fast simple moving average is above the slow one and stays
// in cash otherwise. Parameters (QuantConnect backtest parameters, read with GetParameter):
// "fast" (days, default 10), "slow" (days, default 30), "symbol" (default "SPY").
// Backtest it from Prefect with the backtest-strategy flow
// (strategy_folder: strategies/sma_crossover_cs). It compiles only inside LEAN.

using System;
using QuantConnect.Data;
using QuantConnect.Indicators;

namespace QuantConnect.Algorithm.CSharp
{
    public class SmaCrossoverAlgorithm : QCAlgorithm
    {
        private Symbol _symbol;
        private SimpleMovingAverage _fast;
        private SimpleMovingAverage _slow;

        public override void Initialize()
        {
            SetStartDate(2020, 1, 1);
            SetEndDate(2023, 12, 31);
            SetCash(100000);
            var fast = GetParameter("fast", 10);
            var slow = GetParameter("slow", 30);
            // Swapped rather than refused, so that a grid may try either order.
            var shorter = Math.Min(fast, slow);
            var longer = Math.Max(fast, slow);
            _symbol = AddEquity(GetParameter("symbol", "SPY"), Resolution.Daily).Symbol;
            _fast = SMA(_symbol, shorter, Resolution.Daily);
            _slow = SMA(_symbol, longer, Resolution.Daily);
            SetWarmUp(longer, Resolution.Daily);
        }

        public override void OnData(Slice slice)
        {
            if (IsWarmingUp || !_slow.IsReady)
            {
                return;
            }
            var invested = Portfolio[_symbol].Invested;
            var above = _fast.Current.Value > _slow.Current.Value;
            if (above && !invested)
            {
                SetHoldings(_symbol, 1);
            }
            else if (!above && invested)
            {
                Liquidate(_symbol);
            }
        }
    }
}
