"""Live algorithms: ``deploy-live`` (:mod:`.deploy`), gated, paper unless real money is
confirmed twice, with its form (:mod:`.forms`) and report (:mod:`.report`)."""
